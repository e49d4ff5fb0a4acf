//! Compile-pass and compile-fail tests of the macros: `pass/` holds a case for every function
//! shape and every option (each also compiled under `#![deny(warnings)]`), `fail/` a case for
//! every mistake, named after it, with the compiler's expected output in its `.stderr`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("pass/*.rs");
    t.compile_fail("fail/*.rs");
}
