//! The generator's own checks: the same seed gives the same program, programs differ between
//! seeds, and brackets balance. (Whether the programs compile, run and agree with clox is
//! checked by `runtime/tests/generated.rs` and by `lox-fuzz`.)

use super::choices::Choices;
use super::{program, Size};

#[test]
fn a_seed_gives_one_program() {
    for seed in 0..20 {
        let a = program(&mut Choices::from_seed(seed), Size::Small);
        let b = program(&mut Choices::from_seed(seed), Size::Small);
        assert_eq!(a.source, b.source);
    }
    let a = program(&mut Choices::from_seed(1), Size::Large);
    let b = program(&mut Choices::from_seed(2), Size::Large);
    assert_ne!(a.source, b.source);
}

#[test]
fn brackets_balance_outside_strings() {
    for seed in 0..200 {
        let size = if seed % 4 == 0 {
            Size::Large
        } else {
            Size::Small
        };
        let p = program(&mut Choices::from_seed(seed), size);
        let (mut depth, mut in_string) = (0i64, false);
        for c in p.source.chars() {
            match c {
                '"' => in_string = !in_string,
                '{' | '(' if !in_string => depth += 1,
                '}' | ')' if !in_string => depth -= 1,
                _ => {}
            }
            assert!(depth >= 0, "seed {seed}: closes too early");
        }
        assert_eq!(depth, 0, "seed {seed}");
        assert!(!in_string, "seed {seed}");
    }
}

#[test]
fn any_bytes_make_a_program() {
    for len in [0usize, 1, 7, 100, 5000] {
        let data: Vec<u8> = (0..len).map(|i| (i * 131 % 251) as u8).collect();
        let p = program(&mut Choices::from_bytes(&data), Size::Small);
        assert!(p.source.contains("main();"));
    }
}
