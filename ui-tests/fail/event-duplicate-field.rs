fn main() {
    modelmetry::event!("tool_selected", tool = "a", tool = "b");
}
