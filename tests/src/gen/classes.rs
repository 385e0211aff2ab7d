//! Class declarations: single inheritance with `super.init` and overriding methods that call
//! `super`, fields of every type (instances of earlier classes and ancestors, so that stores can
//! close cycles; bound methods of the instance itself, a cycle from the start), and methods
//! whose cost contracts are fixed before any body is written, so that virtual calls and calls
//! back into the class can be charged without allowing recursion.

use super::types::{Class, Cost, Method, Sig, Ty};
use super::Gen;

impl Gen<'_> {
    /// `class Name [< Super] { init(...) {...} methods... }` at the top level.
    pub(super) fn class_decl(&mut self) {
        let index = self.classes.len();
        let name = self.fresh("C");
        let superclass = if index > 0 && self.ch.chance(1, 2) {
            Some(self.ch.below(index as u64) as usize)
        } else {
            None
        };
        let (mut fields, mut methods, super_params) = match superclass {
            Some(s) => {
                let c = &self.classes[s];
                (c.fields.clone(), c.methods.clone(), c.init_params.clone())
            }
            None => (Vec::new(), Vec::new(), Vec::new()),
        };
        let inherited_fields = fields.len();
        let inherited_methods = methods.len();

        // Overrides (same contract) and new methods.
        let mut bodies: Vec<usize> = (0..inherited_methods)
            .filter(|_| self.ch.chance(1, 3))
            .collect();
        for _ in 0..self.ch.range(if superclass.is_some() { 0 } else { 1 }, 3) {
            let sig = self.method_sig();
            let s = self.add_sig(sig);
            let mname = self.fresh("m");
            bodies.push(methods.len());
            methods.push(Method {
                name: mname,
                sig: s,
                actual: self.sigs[s].cap,
                est: self.sigs[s].cap,
            });
        }

        // New fields: basic values and instances from `init`'s parameters or expressions, and
        // bound methods of the instance itself.
        let nfields = self.ch.range(if inherited_fields == 0 { 1 } else { 0 }, 4);
        for _ in 0..nfields {
            let fname = self.fresh("k");
            let ty = if !methods.is_empty() && self.ch.chance(1, 5) {
                Ty::Fun(self.ch.pick(&methods).sig)
            } else if index > 0 && self.ch.chance(1, 3) {
                Ty::Inst(self.ch.below(index as u64) as usize)
            } else {
                *self.ch.pick(&[Ty::Num, Ty::Str, Ty::Bool])
            };
            fields.push((fname, ty));
        }
        let own_params: Vec<Ty> = fields[inherited_fields..]
            .iter()
            .filter(|(_, ty)| !matches!(ty, Ty::Fun(_)) && self.ch.chance(1, 2))
            .map(|(_, ty)| *ty)
            .collect();
        let mut init_params = super_params.clone();
        init_params.extend(own_params.iter().copied());

        self.classes.push(Class {
            name: name.clone(),
            superclass,
            fields: fields.clone(),
            methods,
            init_params: init_params.clone(),
            init_cost: Cost::new(u64::MAX / 4, u64::MAX / 4),
            init_est: Cost::default(),
        });
        self.constants(3 + u32::from(superclass.is_some()));
        match superclass {
            Some(s) => {
                let sname = self.classes[s].name.clone();
                self.code.open(format!("class {name} < {sname}"));
            }
            None => self.code.open(format!("class {name}")),
        }
        self.init_method(index, &super_params, &init_params, inherited_fields);
        for m in bodies {
            self.method_body(index, m);
        }
        self.code.close();
    }

    /// A contract for a new method: basic parameters or instances, a result the method can
    /// always make.
    fn method_sig(&mut self) -> Sig {
        let nparams = self.ch.below(3) as usize;
        let params = (0..nparams).map(|_| self.value_type()).collect();
        let mut ret = self.value_type();
        if !self.makeable(ret) {
            ret = Ty::Str;
        }
        let cap = Cost {
            work: self.ch.range(40, (self.scale.work / 300).max(60)),
            allocs: self.ch.range(2, (self.scale.allocs / 300).max(4)),
            depth: self.ch.range(2, 6) as u32,
        };
        Sig { params, ret, cap }
    }

    /// `init(...)`: passes the superclass's parameters on to `super.init`, then sets every new
    /// field. Nothing in it reads `this` (its fields are not all set yet) except to take bound
    /// methods, which exist from the start.
    fn init_method(&mut self, class: usize, super_params: &[Ty], params: &[Ty], first_new: usize) {
        let names: Vec<String> = params.iter().map(|_| self.fresh("p")).collect();
        self.constants(2);
        self.code.open(format!("init({})", names.join(", ")));
        let cap = Cost {
            work: 2_000,
            allocs: 50,
            depth: 12,
        };
        self.push_frame(Some(class), true, None, cap);
        self.open_scope();
        for (n, ty) in names.iter().zip(params) {
            self.declare(n, *ty, true);
        }
        if let Some(s) = self.classes[class].superclass {
            let pass = names[..super_params.len()].join(", ");
            self.constants(1);
            self.code.line(format!("super.init({pass});"));
            let (cap, est) = (self.classes[s].init_cost, self.classes[s].init_est);
            self.charge_call(cap.then(Cost::new(5, 0)), est.then(Cost::new(5, 0)));
        }
        let fields = self.classes[class].fields[first_new..].to_vec();
        let mut next_param = super_params.len();
        for (fname, ty) in fields {
            self.constants(1);
            let value = if let Ty::Fun(sig) = ty {
                let m = self.classes[class]
                    .methods
                    .iter()
                    .find(|m| m.sig == sig)
                    .map(|m| m.name.clone())
                    .unwrap_or_default();
                self.constants(1);
                self.charge(Cost::new(3, 1));
                format!("this.{m}")
            } else if next_param < params.len() && params[next_param] == ty {
                next_param += 1;
                names[next_param - 1].clone()
            } else {
                match self.stored(ty, 2) {
                    Some(e) => e.text,
                    None => self.forced_or_param(ty, &names, params),
                }
            };
            self.code.line(format!("this.{fname} = {value};"));
        }
        self.close_scope();
        let f = self.pop_frame();
        self.code.close();
        self.classes[class].init_cost = f.spent;
        self.classes[class].init_est = f.est;
    }

    /// A value of `ty` for a field in `init` when no expression could be made: a parameter of a
    /// fitting type, else a forced construction.
    fn forced_or_param(&mut self, ty: Ty, names: &[String], params: &[Ty]) -> String {
        for (n, p) in names.iter().zip(params) {
            if self.fits(*p, ty) {
                return n.clone();
            }
        }
        self.forced(ty).text
    }

    /// One method body: an override may call `super.name(...)` (charged the superclass's own
    /// cost), so its own body gets what the contract leaves after that.
    fn method_body(&mut self, class: usize, m: usize) {
        let method = self.classes[class].methods[m].clone();
        let sig = self.sigs[method.sig].clone();
        // An override's `super.name(...)` is charged the inherited implementation's cost, which
        // fits the same contract; the whole body stays within it.
        let cap = sig.cap;
        let params: Vec<String> = sig.params.iter().map(|_| self.fresh("p")).collect();
        self.constants(2);
        self.code
            .open(format!("{}({})", method.name, params.join(", ")));
        self.push_frame(Some(class), false, Some(sig.ret), cap);
        self.open_scope();
        for (p, ty) in params.iter().zip(&sig.params) {
            self.declare(p, *ty, true);
        }
        self.body_and_return(sig.ret);
        self.close_scope();
        let f = self.pop_frame();
        self.code.close();
        self.classes[class].methods[m].actual = f.spent;
        self.classes[class].methods[m].est = f.est;
    }
}
