//! Lox values as NaN-boxed 64-bit words. A value is either an `f64` (any bit pattern that is not
//! one of our tagged quiet NaNs), `nil`, `true`, `false`, or a reference to a heap object. The
//! word is also the collector's slot encoding: `LoxModel::decode`/`encode` (object.rs) work on
//! exactly these bits, so a value stored in the VM stack or in an object is a GC slot as is.
//!
//! This module never dereferences an object reference; that is object.rs's job.

use gc::Address;

/// The bits that make a quiet NaN plus one more (bit 50), so that no NaN the FPU produces
/// (0x7ff8… or 0xfff8…) is ever mistaken for a tagged value.
const QNAN: u64 = 0x7ffc_0000_0000_0000;
/// Set together with `QNAN` for object references.
const SIGN: u64 = 0x8000_0000_0000_0000;
const OBJ_TAG: u64 = SIGN | QNAN;

const TAG_NIL: u64 = 1;
const TAG_FALSE: u64 = 2;
const TAG_TRUE: u64 = 3;

/// One Lox value. `Copy`, 8 bytes, no destructor: holding one never keeps anything alive — only
/// a root slot (the VM stack, a table, a temp root) does.
#[derive(Copy, Clone, PartialEq, Eq)]
#[repr(transparent)]
pub struct Value(pub u64);

impl Value {
    pub const NIL: Value = Value(QNAN | TAG_NIL);
    pub const FALSE: Value = Value(QNAN | TAG_FALSE);
    pub const TRUE: Value = Value(QNAN | TAG_TRUE);

    #[inline(always)]
    pub fn number(n: f64) -> Value {
        Value(n.to_bits())
    }

    #[inline(always)]
    pub fn bool(b: bool) -> Value {
        if b {
            Value::TRUE
        } else {
            Value::FALSE
        }
    }

    /// A reference to the object starting at `a` (8-byte aligned, below 2^50).
    #[inline(always)]
    pub fn object(a: Address) -> Value {
        debug_assert!(a.as_usize() as u64 & OBJ_TAG == 0 && a.as_usize() != 0);
        Value(a.as_usize() as u64 | OBJ_TAG)
    }

    #[inline(always)]
    pub fn is_number(self) -> bool {
        self.0 & QNAN != QNAN
    }

    #[inline(always)]
    pub fn as_number(self) -> f64 {
        f64::from_bits(self.0)
    }

    #[inline(always)]
    pub fn is_nil(self) -> bool {
        self == Value::NIL
    }

    #[inline(always)]
    pub fn is_bool(self) -> bool {
        self.0 | 1 == Value::TRUE.0
    }

    #[inline(always)]
    pub fn as_bool(self) -> bool {
        self == Value::TRUE
    }

    #[inline(always)]
    pub fn is_object(self) -> bool {
        self.0 & OBJ_TAG == OBJ_TAG
    }

    /// The object address of a value for which `is_object` holds.
    #[inline(always)]
    pub fn as_address(self) -> Address {
        Address((self.0 & !OBJ_TAG) as usize)
    }

    /// The address if this value refers to an object.
    #[inline(always)]
    pub fn to_address(self) -> Option<Address> {
        if self.is_object() {
            Some(self.as_address())
        } else {
            None
        }
    }

    /// Lox truthiness: only `nil` and `false` are false.
    #[inline(always)]
    pub fn is_falsey(self) -> bool {
        self == Value::NIL || self == Value::FALSE
    }

    /// Lox `==`: numbers by IEEE equality (so `nan != nan`, `0 == -0`), everything else by
    /// identity (strings are interned, so identity is content equality).
    #[inline(always)]
    pub fn lox_equals(self, other: Value) -> bool {
        if self.is_number() && other.is_number() {
            self.as_number() == other.as_number()
        } else {
            self.0 == other.0
        }
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_number() {
            write!(f, "{}", self.as_number())
        } else if self.is_nil() {
            f.write_str("nil")
        } else if self.is_bool() {
            write!(f, "{}", self.as_bool())
        } else {
            write!(f, "obj@{:#x}", self.as_address().as_usize())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_is_one_word() {
        assert_eq!(std::mem::size_of::<Value>(), 8);
    }

    #[test]
    fn numbers_round_trip_and_are_not_tagged() {
        for n in [
            0.0,
            -0.0,
            1.5,
            -3e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
        ] {
            let v = Value::number(n);
            assert!(v.is_number() && !v.is_object() && !v.is_nil() && !v.is_bool());
            assert_eq!(v.as_number().to_bits(), n.to_bits());
        }
        // Both NaNs the hardware produces stay numbers.
        let zero = std::hint::black_box(0.0f64);
        for n in [f64::NAN, -f64::NAN, zero / zero] {
            let v = Value::number(n);
            assert!(v.is_number() && !v.is_object());
            assert!(!v.lox_equals(v));
        }
    }

    #[test]
    fn singletons_are_distinct() {
        let all = [Value::NIL, Value::TRUE, Value::FALSE];
        for (i, a) in all.iter().enumerate() {
            assert!(!a.is_number() && !a.is_object());
            for (j, b) in all.iter().enumerate() {
                assert_eq!(i == j, a == b);
            }
        }
        assert!(Value::TRUE.is_bool() && Value::FALSE.is_bool() && !Value::NIL.is_bool());
        assert!(Value::TRUE.as_bool() && !Value::FALSE.as_bool());
        assert!(Value::NIL.is_falsey() && Value::FALSE.is_falsey());
        assert!(!Value::TRUE.is_falsey() && !Value::number(0.0).is_falsey());
        assert_eq!(Value::bool(true), Value::TRUE);
    }

    #[test]
    fn objects_round_trip() {
        let a = Address(0x7f12_3456_7890);
        let v = Value::object(a);
        assert!(v.is_object() && !v.is_number() && !v.is_nil() && !v.is_bool());
        assert_eq!(v.as_address(), a);
        assert_eq!(v.to_address(), Some(a));
        assert_eq!(Value::number(1.0).to_address(), None);
    }

    #[test]
    fn equality_follows_lox() {
        assert!(Value::number(0.0).lox_equals(Value::number(-0.0)));
        assert!(!Value::number(1.0).lox_equals(Value::TRUE));
        assert!(Value::NIL.lox_equals(Value::NIL));
        let a = Value::object(Address(0x1000));
        assert!(a.lox_equals(a));
        assert!(!a.lox_equals(Value::object(Address(0x1008))));
    }
}
