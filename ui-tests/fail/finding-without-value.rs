fn main() {
    modelmetry::finding!(response_safe_score);
}
