//! The GC-heavy parts of a program, one template per shape of heap: linked lists built,
//! reversed, thinned and rebuilt; trees built recursively with subtrees replaced; rings of
//! vertices with chords (cycles everywhere) walked and cut; strings grown and rebuilt two ways
//! (interning); closures capturing loop variables and each other; instances used as maps with
//! dozens of fields; classes declared inside a loop (class objects, method tables and the
//! closures in them become garbage); and phases that grow the heap and let it shrink. Each shape is a global
//! function `shapeN()` that returns a checksum of what it built (and prints some of it), so an
//! object that is wrong after a move shows in stdout. Sizes, payloads and the conditions inside
//! come from the choices; the payload expressions are the typed generator's, so they call
//! earlier functions and methods too.

use super::expr::E;
use super::stmt::EXPR_DEPTH;
use super::types::{Class, Cost, Sig, Ty};
use super::Gen;

impl Gen<'_> {
    /// Writes one shape function (and the classes it needs) at the top level.
    pub(super) fn shape(&mut self, budget: Cost) {
        let name = self.fresh("shape");
        // Node classes first (at the top level), then the function.
        let kind = self.ch.below(8);
        let share = Cost {
            work: budget.work / 5,
            allocs: budget.allocs / 5,
            depth: 30,
        };
        match kind {
            0 => self.list_shape(&name, share),
            1 => self.tree_shape(&name, share),
            2 => self.graph_shape(&name, share),
            3 => self.string_shape(&name, share),
            4 => self.closure_shape(&name, share),
            5 => self.map_shape(&name, share),
            6 => self.local_class_shape(&name, share),
            _ => self.growth_shape(&name, share),
        }
    }

    /// `print shapeN();` in `main`.
    pub(super) fn call_shape(&mut self, var: usize) {
        if let Ty::Fun(s) = self.vars[var].ty {
            let cap = self.sigs[s].cap.then(Cost::new(4, 0));
            let est = self.vars[var].est.map_or(cap, |e| e.then(Cost::new(4, 0)));
            self.charge_call(cap, est);
        }
        let f = self.use_var(var);
        self.code.line(format!("print {f}();"));
    }

    /// Declares a class with an `init` that stores its parameters, then extra lines. Registers
    /// it with the generator (with the fields listed in `typed`, which are never nil) so later
    /// code can use its instances.
    fn node_class(&mut self, params: &[&str], extra: &[String], typed: &[(&str, Ty)]) -> usize {
        let name = self.fresh("Node");
        self.constants(4 + 2);
        self.code.open(format!("class {name}"));
        self.code.open(format!("init({})", params.join(", ")));
        for p in params {
            self.code.line(format!("this.{p} = {p};"));
        }
        for line in extra {
            self.code.line(line);
        }
        self.code.close();
        self.code.close();
        let index = self.classes.len();
        let init_params = params
            .iter()
            .map(|p| {
                typed
                    .iter()
                    .find(|(n, _)| n == p)
                    .map_or(Ty::Bool, |(_, t)| *t)
            })
            .collect();
        let fields = typed
            .iter()
            .map(|(n, t)| (n.to_string(), resolve(*t, index)))
            .collect();
        self.classes.push(Class {
            name,
            superclass: None,
            fields,
            methods: Vec::new(),
            init_params,
            init_cost: Cost::new(4 + 2 * params.len() as u64 + 2 * extra.len() as u64, 0),
            init_est: Cost::new(4 + 2 * params.len() as u64 + 2 * extra.len() as u64, 0),
        });
        index
    }

    /// Opens `fun name() {` with a frame of `cap`.
    fn open_shape(&mut self, name: &str, cap: Cost) {
        self.constants(2);
        self.code.open(format!("fun {name}()"));
        self.push_frame(None, false, Some(Ty::Num), cap);
        self.open_scope();
    }

    /// Closes the shape function and declares it as a global returning a number.
    fn close_shape(&mut self, name: &str) {
        self.close_scope();
        let f = self.pop_frame();
        self.code.close();
        let sig = self.add_sig(Sig {
            params: Vec::new(),
            ret: Ty::Num,
            cap: f.spent,
        });
        self.declare_function(name, sig, f.est);
    }

    /// `for (var NAME = 0; NAME < n; NAME = NAME + 1) { body }` with NAME visible as a number.
    fn counted(&mut self, var: &str, n: u64, body: impl FnOnce(&mut Self)) {
        self.constants(3);
        self.code.open(format!(
            "for (var {var} = 0; {var} < {n}; {var} = {var} + 1)"
        ));
        self.in_loop(n, |g| {
            g.open_scope();
            g.declare(var, Ty::Num, false);
            body(g);
            g.close_scope();
        });
        self.code.close();
    }

    /// A payload of type `ty` from the typed generator (with whatever is in scope).
    fn payload(&mut self, ty: Ty) -> String {
        match self.stored(ty, EXPR_DEPTH) {
            Some(e) => e.text,
            None => self.forced(ty).text,
        }
    }

    /// A payload without calls (a literal, a variable, a field), for code whose cost is fixed
    /// before it is written, such as a node class's `init`.
    fn leaf_payload(&mut self, ty: Ty) -> String {
        match self.stored(ty, 0) {
            Some(e) => e.text,
            None => self.forced(ty).text,
        }
    }

    /// A count between `lo` and `hi` scaled to the budget's work (`per` is the work of one).
    fn size(&mut self, budget: Cost, per: u64, lo: u64, hi: u64) -> u64 {
        let most = (budget.work / per.max(1)).clamp(lo, hi);
        self.ch.range(lo, most)
    }

    fn list_shape(&mut self, name: &str, budget: Cost) {
        let k = self.node_class(&["v", "s", "next"], &[], &[("v", Ty::Num), ("s", Ty::Str)]);
        let node = self.classes[k].name.clone();
        let rounds = self.ch.range(1, 4);
        let n = self.size(budget, 120 * rounds, 2, 20_000);
        let keep_round = self.ch.below(rounds);
        let junk = self.ch.chance(1, 2);
        self.open_shape(name, budget);
        self.code.line("var sum = 0;");
        self.code.line("var keep = nil;");
        self.constants(4);
        self.counted("r", rounds, |g| {
            g.code.line("var head = nil;");
            g.counted("i", n, |g| {
                let v = g.payload(Ty::Num);
                let s = g.payload(Ty::Str);
                g.code.line(format!("head = {node}({v}, {s}, head);"));
                if junk {
                    let s = g.payload(Ty::Str);
                    g.code.line(format!("var junk = {node}(i, {s} + \"!\", nil);"));
                }
                g.charge(Cost::new(12, 2));
            });
            g.constants(12);
            for line in [
                "var prev = nil;".to_string(),
                "while (head != nil) { var nx = head.next; head.next = prev; prev = head; head = nx; }".into(),
                "head = prev;".into(),
                "var p = head;".into(),
                "while (p != nil and p.next != nil) { p.next = p.next.next; p = p.next; }".into(),
                "var k = 0;".into(),
                "p = head;".into(),
            ] {
                g.code.line(line);
            }
            let probe = g.string_literal().text;
            g.code.open("while (p != nil)");
            g.code.line("sum = wrap(sum + p.v * (k + 1));");
            g.code.line(format!("if (p.s == {probe}) sum = sum + 1;"));
            g.code.line("k = k + 1;");
            g.code.line("p = p.next;");
            g.code.close();
            g.code.line(format!("if (r == {keep_round}) keep = head;"));
            g.charge(Cost::new(40, 0).times(n).then(WRAP_EACH.times(n / 2)));
        });
        self.constants(10);
        self.code.line("var c = 0;");
        self.code.line("var q = keep;");
        self.code
            .line("while (q != nil) { c = wrap(c + q.v); q = q.next; }");
        self.code.line("print c;");
        self.code.line("if (keep != nil) print keep.s;");
        self.charge(WRAP_EACH.then(Cost::new(20, 0)).times(n / 2));
        self.code.line("return sum;");
        self.close_shape(name);
    }

    fn tree_shape(&mut self, name: &str, budget: Cost) {
        let k = self.node_class(&["l", "r", "v"], &[], &[("v", Ty::Num)]);
        let node = self.classes[k].name.clone();
        let depth = self
            .ch
            .range(1, if budget.work > 1_000_000 { 13 } else { 8 });
        let nodes = (1u64 << depth) - 1;
        let rounds = self.size(budget, nodes * 1500 + 1, 1, 30);
        let small = self.ch.range(1, depth.min(5));
        let build = self.fresh("build");
        let sum = self.fresh("tsum");
        // build(d, x): x grows by at most d per level, so it stays small.
        self.constants(4);
        self.code.open(format!("fun {build}(d, x)"));
        self.push_frame(
            None,
            false,
            Some(Ty::Num),
            Cost::new(5_000, 100).with_depth(4),
        );
        self.open_scope();
        self.declare("d", Ty::Num, false);
        self.declare("x", Ty::Num, false);
        self.code.line("if (d <= 0) return nil;");
        let v = self.payload(Ty::Num);
        self.code.line(format!(
            "return {node}({build}(d - 1, x + 1), {build}(d - 1, x + d), {v});"
        ));
        self.close_scope();
        let one = self.pop_frame().spent;
        self.code.close();
        self.constants(3);
        self.code.line(format!(
            "fun {sum}(t) {{ if (t == nil) return 0; return wrap(t.v + 2 * {sum}(t.l) - {sum}(t.r)); }}"
        ));
        let per_node = one.then(WRAP_EACH).then(Cost::new(30, 1));
        self.open_shape(name, budget);
        self.constants(12);
        self.code.line(format!("var keep = {build}({depth}, 0);"));
        self.code.line("var sum = 0;");
        self.charge(per_node.times(nodes).with_depth(depth as u32 + 3));
        let dir = self.fresh("p");
        self.counted("r", rounds, |g| {
            g.code.line(format!("var t = {build}({depth}, r);"));
            g.code.line(format!("sum = wrap(sum + {sum}(t));"));
            g.code.line(format!("var {dir} = keep;"));
            g.declare(&dir, Ty::Inst(k), false);
            let turns = g.ch.range(0, depth);
            g.counted("j", turns, |g| {
                let cond = g.expr(Ty::Bool, 2).map_or("true".into(), |e: E| e.text);
                g.code.line(format!(
                    "if ({cond}) {{ if ({dir}.l != nil and {dir}.l.l != nil) {dir} = {dir}.l; }} else if ({dir}.r != nil and {dir}.r.r != nil) {dir} = {dir}.r;"
                ));
            });
            g.code.line(format!("{dir}.l = {build}({small}, r);"));
            g.charge(per_node.times(2 * nodes));
        });
        self.code.line(format!("return wrap(sum + {sum}(keep));"));
        self.charge(per_node.times(nodes));
        self.close_shape(name);
    }

    fn graph_shape(&mut self, name: &str, budget: Cost) {
        let tag = self.leaf_payload(Ty::Str);
        let extra = vec![
            "this.a = this;".to_string(),
            "this.b = this;".to_string(),
            "this.nx = nil;".to_string(),
            format!("this.tag = {tag} + \"\";"),
        ];
        let k = self.node_class(
            &["id"],
            &extra,
            &[
                ("id", Ty::Num),
                ("a", Ty::Inst(usize::MAX)),
                ("b", Ty::Inst(usize::MAX)),
                ("tag", Ty::Str),
            ],
        );
        let vx = self.classes[k].name.clone();
        let rounds = self.ch.range(1, 3);
        let s1 = self.ch.range(1, 7);
        let s2 = self.ch.range(1, 7);
        let n = self.size(budget, (60 + 10 * (s1 + s2)) * rounds * 2, 2, 20_000);
        let walk = self.ch.range(1, 3 * n);
        self.open_shape(name, budget);
        self.constants(6);
        self.code.line("var sum = 0;");
        self.code.line("var keep = nil;");
        self.counted("r", rounds, |g| {
            g.constants(30);
            g.code.line(format!("var first = {vx}(r);"));
            g.code.line("var last = first;");
            g.code.line(format!(
                "for (var i = 1; i < {n}; i = i + 1) {{ var v = {vx}(i); last.nx = v; last = v; }}"
            ));
            g.code.line("last.nx = first;");
            g.code.line("var v = first;");
            g.code.open(format!("for (var i = 0; i < {n}; i = i + 1)"));
            g.code.line("var t = v;");
            g.code
                .line(format!("for (var j = 0; j < {s1}; j = j + 1) t = t.nx;"));
            g.code.line("v.a = t;");
            g.code
                .line(format!("for (var j = 0; j < {s2}; j = j + 1) t = t.nx;"));
            g.code.line("v.b = t;");
            g.code.line("v = v.nx;");
            g.code.close();
            g.code.line("var p = first;");
            g.declare("p", Ty::Inst(k), false);
            g.counted("w", walk, |g| {
                g.code.line("sum = wrap(sum + p.id * (w + 1));");
                let cond = g.expr(Ty::Bool, 2).map_or("true".into(), |e| e.text);
                g.code
                    .line(format!("if ({cond}) p = p.a; else p = p.b;"));
                g.charge(WRAP_EACH.then(Cost::new(20, 0)));
            });
            // Cut the ring: the far half becomes a garbage cycle (its chords still point into
            // the near half, which stays alive).
            g.code.line("var cut = first;");
            g.code.line(format!(
                "for (var i = 0; i < {}; i = i + 1) cut = cut.nx;",
                n / 2
            ));
            g.code.line("cut.nx = first;");
            g.code.line("var c = 0;");
            g.code.line("p = first;");
            g.code.line(format!(
                "for (var i = 0; i < {n}; i = i + 1) {{ c = wrap(c + p.id + p.a.id * 2); p = p.nx; }}"
            ));
            g.code.line("print c;");
            g.code.line("print p.tag;");
            g.code.line("keep = first;");
            g.charge(Cost::new(80 + 10 * (s1 + s2), 1).then(WRAP_EACH).times(n));
        });
        self.code.line("return sum;");
        self.close_shape(name);
    }

    fn string_shape(&mut self, name: &str, budget: Cost) {
        let rounds = self.size(budget, 40_000, 1, 60);
        let n = self.ch.range(1, 250);
        // A word split at two different places: both halves concatenated must be one string.
        let word = format!(
            "{}{}",
            self.ch.pick(&["interned", "string", "concatenation"]),
            self.ch.below(1000)
        );
        let (cut1, cut2) = (
            self.ch.range(0, word.len() as u64) as usize,
            self.ch.range(0, word.len() as u64) as usize,
        );
        self.open_shape(name, budget);
        self.constants(10);
        self.code.line("var same = 0;");
        self.code.line("var acc = \"\";");
        self.counted("r", rounds, |g| {
            g.code.line("acc = \"\";");
            g.counted("i", n, |g| {
                let piece = g.payload(Ty::Str);
                let cond = g.expr(Ty::Bool, 2).map_or("true".into(), |e| e.text);
                g.constants(6);
                g.code.line(format!("var piece = {piece};"));
                g.code.line(format!(
                    "if ({cond}) acc = acc + piece; else acc = piece + acc;"
                ));
                g.code.line(format!(
                    "var a = \"{}\" + \"{}\";",
                    &word[..cut1],
                    &word[cut1..]
                ));
                g.code.line(format!(
                    "var b = \"{}\" + \"{}\";",
                    &word[..cut2],
                    &word[cut2..]
                ));
                g.code.line("if (a == b) same = same + 1;");
                g.charge(Cost::new(40, 4));
            });
        });
        self.code.line("print acc;");
        self.code.line("print same;");
        self.code.line("return same;");
        self.charge(Cost::new(0, 0).then(Cost::new(10, 0)));
        self.close_shape(name);
    }

    fn closure_shape(&mut self, name: &str, budget: Cost) {
        let k = self.node_class(&["f", "next"], &[], &[]);
        let cell = self.classes[k].name.clone();
        let rounds = self.ch.range(1, 5);
        let n = self.size(budget, 900 * rounds + 200, 1, 5_000);
        let make = self.fresh("make");
        self.open_shape(name, budget);
        self.constants(20);
        self.code.line("var fs = nil;");
        self.counted("i", n, |g| {
            let local = g.payload(Ty::Num);
            let label = g.payload(Ty::Str);
            g.code.line(format!("var local = {local};"));
            g.code.line(format!("var label = {label};"));
            // Captures the loop variable (one variable for the whole loop, as in clox) and a
            // fresh local per iteration.
            g.code.line(
                "fun c(x) { local = wrap(local + x + i); if (label == \"a\") return -local; return local; }",
            );
            g.code.line(format!("fs = {cell}(c, fs);"));
            if g.ch.chance(1, 2) {
                g.code.line("fun junk() { return label + label; }");
                g.code.line("junk();");
            }
            g.charge(Cost::new(30, 6));
        });
        self.code.line("var sum = 0;");
        self.counted("r", rounds, |g| {
            g.code.line("var p = fs;");
            g.code
                .line("while (p != nil) { sum = wrap(sum + p.f(r)); p = p.next; }");
            g.charge(
                WRAP_EACH
                    .times(2)
                    .then(Cost::new(30, 0))
                    .times(n)
                    .with_depth(3),
            );
        });
        // Upvalues of upvalues: a counter whose getters close over the closure's own variable.
        self.code.line(format!(
            "fun {make}(start) {{ var n = start; fun inc() {{ n = n + 1; fun get() {{ return n; }} return get; }} return inc; }}"
        ));
        let start = self.payload(Ty::Num);
        self.code.line(format!("var inc = {make}({start});"));
        self.code.line("var g1 = inc();");
        self.code.line("var g2 = inc();");
        self.code.line("print g1() == g2();");
        self.code.line("return wrap(sum + g1());");
        self.charge(Cost::new(60, 6).with_depth(4));
        self.close_shape(name);
    }

    fn map_shape(&mut self, name: &str, budget: Cost) {
        let k = self.node_class(&[], &[], &[]);
        let map = self.classes[k].name.clone();
        let nfields = self.ch.range(2, 24) as usize;
        let fields: Vec<String> = (0..nfields).map(|_| self.fresh("f")).collect();
        let rounds = self.size(budget, 30 * nfields as u64 + 100, 1, 3_000);
        let keep_round = self.ch.below(rounds);
        self.open_shape(name, budget);
        self.constants(10);
        self.code.line("var sum = 0;");
        self.code.line(format!("var keep = {map}();"));
        self.code.line("keep.count = 0;");
        self.counted("r", rounds, |g| {
            g.code.line(format!("var m = {map}();"));
            // Every field gets a number, some are overwritten, a few hold strings and maps.
            let mut order: Vec<usize> = (0..nfields).collect();
            for i in (1..order.len()).rev() {
                let j = g.ch.below(i as u64 + 1) as usize;
                order.swap(i, j);
            }
            for &f in &order {
                let v = g.leaf_payload(Ty::Num);
                g.constants(1);
                g.code.line(format!("m.{} = {v};", fields[f]));
            }
            for _ in 0..g.ch.below(4) {
                let f = &fields[g.ch.below(nfields as u64) as usize].clone();
                let v = g.leaf_payload(Ty::Num);
                g.constants(3);
                g.code.line(format!("m.{f} = wrap(m.{f} + {v});"));
            }
            g.constants(8);
            g.code.line("m.link = keep;");
            g.code.line("m.name = \"map\" + \"#\";");
            let total: Vec<String> = fields.iter().map(|f| format!("m.{f}")).collect();
            g.constants(total.len() as u32 + total.len().div_ceil(8) as u32);
            for chunk in total.chunks(8) {
                g.code
                    .line(format!("sum = wrap(sum + {});", chunk.join(" + ")));
            }
            g.code.line(format!(
                "if (r == {keep_round}) {{ m.count = keep.count + 1; keep.back = m; keep = m; }}"
            ));
            g.charge(
                Cost::new(20 * nfields as u64 + 40, 3)
                    .then(WRAP_EACH.times(nfields as u64 / 8 + 1)),
            );
        });
        self.constants(6);
        self.code.line("print keep.count;");
        self.code.line("print keep.name;");
        self.code
            .line(format!("return wrap(sum + keep.{});", fields[0]));
        self.close_shape(name);
    }

    fn local_class_shape(&mut self, name: &str, budget: Cost) {
        let base = self.fresh("Base");
        let local = self.fresh("Local");
        let n = self.size(budget, 400, 1, 20_000);
        let keep_at = self.ch.below(n);
        self.constants(8);
        self.code.line(format!(
            "class {base} {{ init(x) {{ this.x = x; }} get() {{ return this.x; }} }}"
        ));
        self.open_shape(name, budget);
        self.constants(20);
        self.code.line("var sum = 0;");
        self.code.line("var keep = nil;");
        self.counted("i", n, |g| {
            let captured = g.payload(Ty::Num);
            let label = g.payload(Ty::Str);
            g.code.line(format!("var captured = {captured};"));
            g.code.line(format!("var label = {label};"));
            // A class per iteration: its methods close over the iteration's locals and the
            // loop variable, and call the global superclass's method through `super`.
            g.code.open(format!("class {local} < {base}"));
            g.code
                .line(r#"init(x) { super.init(x); this.tag = label + "!"; }"#);
            g.code
                .line("get() { return wrap(super.get() + captured + i); }");
            g.code.line("name() { return this.tag + label; }");
            g.code.close();
            g.code.line(format!("var o = {local}(i);"));
            g.code.line("sum = wrap(sum + o.get());");
            g.code.line(format!("if (i == {keep_at}) keep = o;"));
            g.code.line("captured = captured + 1;");
            g.charge(Cost::new(120, 12).then(WRAP_EACH.times(2)));
        });
        self.code.line("print keep.name();");
        self.code.line("print keep;");
        self.code.line("return wrap(sum + keep.get());");
        self.charge(Cost::new(30, 2).then(WRAP_EACH.times(2)));
        self.close_shape(name);
    }

    fn growth_shape(&mut self, name: &str, budget: Cost) {
        let pad = self.leaf_payload(Ty::Str);
        let k = self.node_class(
            &["v", "next"],
            &[format!("this.pad = {pad} + \"-\";")],
            &[("v", Ty::Num), ("pad", Ty::Str)],
        );
        let node = self.classes[k].name.clone();
        let phases = self.ch.range(2, 6);
        let big = self.size(budget, 60 * phases, 2, 60_000);
        let small = self.ch.range(1, big.div_ceil(10));
        let keep_phase = self.ch.below(phases);
        self.open_shape(name, budget);
        self.constants(20);
        self.code.line("var sum = 0;");
        self.code.line("var keep = nil;");
        self.code.line("var grow = true;");
        self.counted("phase", phases, |g| {
            g.code.line(format!("var n = {small};"));
            g.code.line(format!("if (grow) n = {big};"));
            g.code.line("grow = !grow;");
            g.code.line("var list = nil;");
            g.code.line(format!(
                "for (var i = 0; i < n; i = i + 1) list = {node}(i + phase, list);"
            ));
            g.code.line("var p = list;");
            g.code.line("var c = 0;");
            g.code
                .line("while (p != nil) { c = wrap(c + p.v); p = p.next; }");
            g.code.line("sum = wrap(sum + c);");
            g.code
                .line(format!("if (phase == {keep_phase}) keep = list;"));
            g.charge(Cost::new(50, 3).then(WRAP_EACH).times(big));
        });
        self.code.line("var c = 0;");
        self.code
            .line("while (keep != nil) { c = wrap(c + keep.v); if (keep.next == nil) print keep.pad; keep = keep.next; }");
        self.code.line("return wrap(sum + c);");
        self.charge(Cost::new(30, 0).then(WRAP_EACH).times(big));
        self.close_shape(name);
    }
}

/// What one `wrap` call costs on a small argument (most return at once).
const WRAP_EACH: Cost = Cost {
    work: 40,
    allocs: 0,
    depth: 1,
};

/// `Ty::Inst(usize::MAX)` in a node class's field list stands for the class itself.
fn resolve(ty: Ty, itself: usize) -> Ty {
    match ty {
        Ty::Inst(usize::MAX) => Ty::Inst(itself),
        t => t,
    }
}

impl Cost {
    /// The same cost with call depth `depth`.
    pub(super) fn with_depth(self, depth: u32) -> Cost {
        Cost { depth, ..self }
    }
}
