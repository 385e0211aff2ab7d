//! Programs that overwrite references heavily — fields reassigned and moved between objects,
//! tables growing, globals swapped, closed upvalues reassigned, upvalues linked into the
//! middle of the open list, strings re-interned after only the weak intern table held them —
//! run while concurrent cycles mark at the same time, started every few allocations, with the
//! verifier checking at every cycle that marking found every reachable object. A missing
//! write barrier or shade aborts the verifier or corrupts the output.

use super::{harness, label};
use gc::{FaultMode, GcMode, HeapConfig};

/// Concurrent marking started every `every` allocations, `threads` markers, verified.
fn marking(fault: FaultMode, every: u64, threads: usize) -> HeapConfig {
    HeapConfig {
        mode: GcMode::Concurrent { fault },
        stress_every: Some(every),
        verify: true,
        gc_threads: threads,
        ..HeapConfig::default()
    }
}

/// The configurations of this file: stress intervals that let the program run (and store)
/// while the GC thread marks, in both fault modes and with one and two markers.
fn configs() -> Vec<HeapConfig> {
    vec![
        marking(FaultMode::Sigbus, 1, 1),
        marking(FaultMode::Sigbus, 3, 2),
        marking(FaultMode::Thread, 7, 1),
        marking(FaultMode::Sigbus, 50, 2),
    ]
}

/// A long live list run first, so that each cycle's marking takes long enough for the
/// program to make many stores while it runs.
const BALLAST: &str = r#"
class Ballast { init(next) { this.next = next; } }
var ballast = nil;
for (var b = 0; b < 3000; b = b + 1) ballast = Ballast(ballast);
"#;

/// Runs `src` (after the ballast) in every configuration; each must print `expected`, with
/// marking having overlapped the program. The cycle still marking at the end is driven to its
/// flip, so the verifier checks its marking too.
fn check_marking(src: &str, expected: &str) {
    let src = format!("{BALLAST}{src}");
    for cfg in configs() {
        let what = label(&cfg);
        let mut h = harness(cfg);
        let r = h.run(&src);
        let started =
            h.vm.core()
                .heap
                .heap()
                .stats()
                .pauses
                .iter()
                .filter(|p| p.kind == "initial")
                .count();
        assert!(
            started > 0,
            "no cycle started while the program ran ({what})"
        );
        h.vm.collect_garbage();
        assert_eq!(h.err.text(), "", "stderr ({what})");
        assert_eq!(r, Ok(()), "{what}");
        assert_eq!(h.take_out(), expected, "{what}");
        assert!(h.vm.gc_cycles() > 0, "no cycle completed ({what})");
    }
}

/// In-place list reversal: each `h.next = prev` drops the only heap reference to the rest of
/// the list, which lives on only in a local and later in already-visited nodes.
const REVERSE: &str = r#"
class Node { init(v, next) { this.v = v; this.next = next; } }
var head = nil;
for (var i = 1; i <= 300; i = i + 1) head = Node(i, head);
fun reverse(h) {
  var prev = nil;
  while (h != nil) {
    var n = h.next;
    h.next = prev;
    h.tag = Node(0, nil);
    prev = h;
    h = n;
  }
  return prev;
}
for (var r = 0; r < 41; r = r + 1) head = reverse(head);
var s = 0;
var k = 0;
var n = head;
while (n != nil) { s = s + n.v; k = k + 1; n = n.next; }
print s;
print k;
print head.v;
"#;

#[test]
fn fields_overwritten_while_marking() {
    check_marking(REVERSE, "45150\n300\n1\n");
}

/// A ring of holders whose values rotate one place per round through a local: each store
/// drops a value's only heap reference and puts it into another (maybe already marked)
/// object.
const HOLDERS: &str = r#"
class Holder { init(v, next) { this.v = v; this.next = next; } }
class Box { init(v) { this.v = v; } }
var first = nil;
for (var i = 1; i <= 200; i = i + 1) first = Holder(Box(i), first);
fun rotate() {
  var carry = first.v;
  var h = first.next;
  while (h != nil) {
    var t = h.v;
    h.v = carry;
    carry = t;
    h = h.next;
  }
  first.v = Box(carry.v);
}
for (var r = 0; r < 60; r = r + 1) rotate();
var s = 0;
for (var h = first; h != nil; h = h.next) s = s + h.v.v;
print s;
print first.v.v;
"#;

#[test]
fn values_moved_between_fields_while_marking() {
    check_marking(HOLDERS, "20100\n60\n");
}

/// Instances that grow field tables (several resizes each) while cycles mark; the old entry
/// arrays hold the only references to earlier field values.
fn growing_tables() -> String {
    let mut src = String::from("class O {}\nvar keep = nil;\nvar t = 0;\n");
    src.push_str("for (var i = 0; i < 30; i = i + 1) {\n  var o = O();\n");
    for f in 0..40 {
        src.push_str(&format!("  o.f{f} = O(); o.f{f}.v = {f};\n"));
    }
    for f in 0..40 {
        src.push_str(&format!("  t = t + o.f{f}.v;\n"));
    }
    src.push_str("  keep = o;\n}\nprint t;\nprint keep.f39.v;\n");
    src
}

#[test]
fn tables_grow_while_marking() {
    check_marking(&growing_tables(), "23400\n39\n");
}

/// Globals whose values trade places with a list's fields (a value leaves the globals
/// table for an object and back), and new globals defined (the table grows) meanwhile.
fn swapped_globals() -> String {
    let mut src = String::from(
        "class Holder { init(v, next) { this.v = v; this.next = next; } }\n\
         class Box { init(v) { this.v = v; } }\n\
         var list = nil;\n\
         for (var i = 0; i < 100; i = i + 1) list = Holder(Box(i), list);\n\
         var g0 = Box(1000); var g1 = Box(2000);\n\
         for (var r = 0; r < 30; r = r + 1) {\n  \
           for (var h = list; h != nil; h = h.next) {\n    \
             var t = g0; g0 = g1; g1 = h.v; h.v = t;\n  \
           }\n\
         }\n",
    );
    for k in 0..30 {
        src.push_str(&format!("var n{k} = Box(g{});\n", k % 2));
    }
    src.push_str("var s = g0.v + g1.v;\n");
    src.push_str("for (var h = list; h != nil; h = h.next) s = s + h.v.v;\n");
    src.push_str("print s;\nprint n29.v == g1;\n");
    src
}

#[test]
fn globals_reassigned_while_marking() {
    check_marking(&swapped_globals(), "7950\ntrue\n");
}

/// Closed upvalues reassigned (the old value only in a local), and upvalues captured out of
/// slot order so that new ones are linked into the middle of the open list.
const UPVALUES: &str = r#"
class Box { init(v) { this.v = v; } }
fun make() {
  var x = Box(0);
  var y = Box(1);
  fun swap() {
    var t = x;
    x = y;
    y = t;
    x = Box(x.v + y.v);
    return x.v;
  }
  return swap;
}
var f = make();
var last = 0;
for (var i = 0; i < 25; i = i + 1) last = f();
print last;
fun scramble(n) {
  var a = Box(n); var b = Box(n + 1); var c = Box(n + 2); var d = Box(n + 3);
  fun fd() { return d.v; }
  fun fa() { return a.v; }
  fun fc() { return c.v; }
  fun fb() { return b.v; }
  fun all() { return fa() + fb() + fc() + fd(); }
  a = Box(a.v * 2); c = Box(c.v * 2);
  return all;
}
var total = 0;
for (var j = 0; j < 300; j = j + 1) total = total + scramble(j)();
print total;
class Holder { init(v, next) { this.v = v; this.next = next; } }
var list = nil;
for (var i = 1; i <= 100; i = i + 1) list = Holder(Box(i), list);
fun trader() {
  var x = Box(0);
  fun trade(h) { var t = x; x = h.v; h.v = t; }
  fun get() { return x.v; }
  return Holder(trade, get);
}
var tr = trader();
for (var r = 0; r < 40; r = r + 1)
  for (var h = list; h != nil; h = h.next) tr.v(h);
var sum = tr.next();
for (var h = list; h != nil; h = h.next) sum = sum + h.v.v;
print sum;
"#;

#[test]
fn upvalues_closed_and_reassigned_while_marking() {
    // The swap closure steps through the Fibonacci numbers (its 25th call returns F(25));
    // scramble(n) sums 2n + (n + 1) + 2(n + 2) + (n + 3) = 6n + 8.
    check_marking(UPVALUES, "75025\n271500\n5050\n");
}

/// Strings rebuilt by concatenation: between rounds only the intern table (weak) holds them,
/// so a cycle that starts there sees them unmarked; the next round finds them in the table
/// again and holds them on the stack, which marking does not scan again.
const REINTERN: &str = r#"
class Box { init(v) { this.v = v; } }
fun piece(j) {
  if (j == 0) return "al";
  if (j == 1) return "pha";
  if (j == 2) return "be";
  return "ta";
}
var same = 0;
var s = nil;
for (var i = 0; i < 600; i = i + 1) {
  s = nil;
  var junk = Box(i);
  var t = "";
  for (var j = 0; j < 4; j = j + 1) {
    t = t + piece(j);
    junk = Box(t);
  }
  if (t == "alpha" + "beta") same = same + 1;
  s = t;
}
print same;
print s;
"#;

#[test]
fn strings_reinterned_while_marking() {
    check_marking(REINTERN, "600\nalphabeta\n");
}
