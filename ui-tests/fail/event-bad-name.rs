fn main() {
    modelmetry::event!(42, tool = "x");
}
