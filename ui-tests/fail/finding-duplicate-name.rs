fn main() {
    modelmetry::finding!(score = 0.5, score = 0.6);
}
