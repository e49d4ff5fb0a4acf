fn main() {
    modelmetry::finding!(score = 0.5; note = "x");
}
