fn main() {
    let scores = vec![0.5];
    modelmetry::finding!(score = scores);
}
