fn main() {
    modelmetry::finding!(0.93 = 0.93);
}
