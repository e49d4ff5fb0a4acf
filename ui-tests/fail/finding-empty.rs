fn main() {
    modelmetry::finding!();
}
