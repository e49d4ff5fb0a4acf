//! Every form of `finding!` and `event!`.
#![deny(warnings)]

use modelmetry::{event, finding};

#[derive(Debug)]
struct DebugOnly;

fn main() {
    let score = 0.93;
    finding!(response_safe_score = 0.93);
    finding!(response_safe_score = score);
    finding!(input_tokens = 120, output_tokens = 45u64);
    finding!(on_topic = true);
    finding!(verdict = "safe");
    finding!(verdict = String::from("safe"));
    finding!("response.safe_score" = 0.5);
    finding!(r#type = 1);
    finding!(trailing = 1,);
    finding!(toxicity = 0.02; comment = "moderation model");
    finding!(toxicity = 0.02; description = String::from("probability"), comment = "c");
    finding!(a = 1, b = 2; comment = "both", metadata(model = "m", "k.v" = 3));
    finding!(nan = f64::NAN);

    let tool = "GetOrderInformation";
    let attempt = 2;
    event!("tool_selected");
    event!(tool_selected);
    event!("tool_selected", tool = tool);
    event!("tool_selected", tool, attempt);
    event!("tool_selected", "tool.name" = tool, offered = ["a", "b"],);
    event!("debugged", value = DebugOnly);

    // Both are expressions of type `()`.
    let () = finding!(x = 1);
    let () = event!("y");
}
