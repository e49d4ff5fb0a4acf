fn main() {
    modelmetry::event!();
}
