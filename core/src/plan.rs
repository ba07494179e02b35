//! Making a view's links match a wanted set (`bindfs-rs link apply`): the steps, in an order
//! the link rules accept.
//!
//! Pure: from the live links and the wanted ones it computes removals and creations, and
//! nothing else. Checking the steps against the namespace and carrying them out is the view's
//! ([`crate::View::check_steps`]) and the control protocol's.
//!
//! - A live link the wanted set does not hold, or holds with another spec (backing, flags or
//!   exceptions), is removed; a changed one is created again with its new spec.
//! - Removal is deepest first (rule 17: a link with links below it cannot be removed), and a
//!   link below a removed one is removed too, then created again if wanted: its parent's link
//!   goes away under it.
//! - Creation follows the wanted order (rule 16: order is precedence, so the file's order is
//!   kept where nothing forces another), except that a link comes after every wanted link its
//!   creation needs: those whose virtual path is an ancestor of its own (rule 4: a nested
//!   anchorless link needs its parent first) and, for a chain (rule 9), those at or above the
//!   path it points to (rule 2: the backing must exist).

use crate::name::CasePolicy;
use crate::path::VPath;
use crate::table::{Link, LinkSpec, Target};

/// One change of a view's links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Remove the link at this virtual path.
    Remove(VPath),
    /// Create this link.
    Create(LinkSpec),
}

/// Whether a live link is what `spec` asks for: same virtual path, backing, flags and set of
/// exceptions (whether it is anchorless is the namespace's doing, not part of what was asked).
pub fn same_link(link: &Link, spec: &LinkSpec, policy: CasePolicy) -> bool {
    let same_target = match (&link.target, &spec.target) {
        (Target::View(a), Target::View(b)) => a.same(b, policy),
        (a, b) => a == b,
    };
    let covers = |a: &[VPath], b: &[VPath]| a.iter().all(|x| b.iter().any(|y| x.same(y, policy)));
    link.virt.same(&spec.virt, policy)
        && same_target
        && link.flags == spec.flags
        && covers(&link.exceptions, &spec.exceptions)
        && covers(&spec.exceptions, &link.exceptions)
}

/// The steps that make `live` (in creation order) into `wanted` (in the wanted order), under
/// the view's case policy: every removal first, deepest first, then every creation.
pub fn plan(live: &[Link], wanted: &[LinkSpec], policy: CasePolicy) -> Vec<Step> {
    let kept_as_is = |l: &Link| wanted.iter().any(|w| same_link(l, w, policy));
    // Links to remove: unwanted or changed ones, and any link below one of those.
    let mut gone: Vec<&Link> = live.iter().filter(|l| !kept_as_is(l)).collect();
    let below_gone: Vec<&Link> = live
        .iter()
        .filter(|l| kept_as_is(l))
        .filter(|l| {
            gone.iter().any(|g| l.virt.depth() > g.virt.depth() && l.virt.starts_with(&g.virt, policy))
        })
        .collect();
    gone.extend(below_gone);
    // Deepest first; among equals, the latest made first (the reverse of how they came).
    gone.sort_by(|a, b| b.virt.depth().cmp(&a.virt.depth()).then(b.id.cmp(&a.id)));
    let mut steps: Vec<Step> = gone.iter().map(|l| Step::Remove(l.virt.clone())).collect();
    // Links to create: wanted ones not live as they are after the removals.
    let stays = |w: &LinkSpec| {
        live.iter().any(|l| same_link(l, w, policy) && !gone.iter().any(|g| g.virt.same(&l.virt, policy)))
    };
    let todo: Vec<&LinkSpec> = wanted.iter().filter(|w| !stays(w)).collect();
    steps.extend(creation_order(&todo, policy).into_iter().map(|w| Step::Create(w.clone())));
    steps
}

/// Whether creating `a` needs `b` made first: `b`'s virtual path is a strict ancestor of
/// `a`'s (rule 4), or `a` is a chain to a path at or below `b`'s (rules 2 and 9).
fn needs(a: &LinkSpec, b: &LinkSpec, policy: CasePolicy) -> bool {
    let parent = b.virt.depth() < a.virt.depth() && a.virt.starts_with(&b.virt, policy);
    let chain = matches!(&a.target, Target::View(t) if t.starts_with(&b.virt, policy));
    parent || chain
}

/// `links` in the order they can be created: each after the links it needs, otherwise as given
/// (a stable topological order). Links that need each other (a cycle of chains, which rule 9
/// lets exist) keep their given order.
fn creation_order<'a>(links: &[&'a LinkSpec], policy: CasePolicy) -> Vec<&'a LinkSpec> {
    let mut done = vec![false; links.len()];
    let mut order = Vec::with_capacity(links.len());
    while order.len() < links.len() {
        let ready = |i: usize| {
            !done[i] && (0..links.len()).all(|j| j == i || done[j] || !needs(links[i], links[j], policy))
        };
        // The first ready link in the given order; in a cycle, the first one left.
        let next = (0..links.len()).find(|&i| ready(i)).or_else(|| (0..links.len()).find(|&i| !done[i]));
        let Some(i) = next else { break };
        done[i] = true;
        order.push(links[i]);
    }
    order
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::table::{LinkFlags, LinkId};

    fn spec(virt: &str, backing: &str) -> LinkSpec {
        let target = match backing.strip_prefix("view:") {
            Some(p) => Target::View(VPath::parse(p).unwrap()),
            None => Target::host(backing).unwrap(),
        };
        LinkSpec {
            virt: VPath::parse(virt).unwrap(),
            target,
            flags: LinkFlags::default(),
            exceptions: vec![],
        }
    }

    fn live(specs: &[LinkSpec]) -> Vec<Link> {
        specs
            .iter()
            .enumerate()
            .map(|(i, s)| Link {
                id: LinkId(i as u64 + 1),
                virt: s.virt.clone(),
                target: s.target.clone(),
                flags: s.flags,
                exceptions: s.exceptions.clone(),
                anchorless: false,
            })
            .collect()
    }

    /// The steps as short strings: `-/a` removes /a, `+/a` creates /a.
    fn show(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Remove(v) => format!("-{v}"),
                Step::Create(l) => format!("+{}", l.virt),
            })
            .collect()
    }

    #[test]
    fn plans_add_remove_keep_replace_and_order() {
        let ro = |mut s: LinkSpec| {
            s.flags.read_only = true;
            s
        };
        let except = |mut s: LinkSpec, e: &str| {
            s.exceptions.push(VPath::parse(e).unwrap());
            s
        };
        // (live, wanted) -> steps
        let cases: Vec<(Vec<LinkSpec>, Vec<LinkSpec>, Vec<&str>)> = vec![
            // Nothing to do.
            (vec![], vec![], vec![]),
            (vec![spec("/a", "/t/a")], vec![spec("/a", "/t/a")], vec![]),
            // Add, in the wanted order.
            (vec![], vec![spec("/b", "/t/b"), spec("/a", "/t/a")], vec!["+/b", "+/a"]),
            // Remove the extra ones, deepest first.
            (
                vec![spec("/a", "/t/a"), spec("/a/b", "/t/b"), spec("/c", "/t/c")],
                vec![spec("/c", "/t/c")],
                vec!["-/a/b", "-/a"],
            ),
            // A child listed before its parent is created after it.
            (
                vec![],
                vec![spec("/a/b/c", "/t/c"), spec("/x", "/t/x"), spec("/a", "/t/a")],
                vec!["+/x", "+/a", "+/a/b/c"],
            ),
            // A changed backing, flag or exception set replaces the link.
            (vec![spec("/a", "/t/a")], vec![spec("/a", "/t/other")], vec!["-/a", "+/a"]),
            (vec![spec("/a", "/t/a")], vec![ro(spec("/a", "/t/a"))], vec!["-/a", "+/a"]),
            (vec![except(spec("/a", "/t/a"), "/a/k")], vec![spec("/a", "/t/a")], vec!["-/a", "+/a"]),
            // The same exceptions in another order are the same link.
            (
                vec![except(except(spec("/a", "/t/a"), "/a/k"), "/a/j")],
                vec![except(except(spec("/a", "/t/a"), "/a/j"), "/a/k")],
                vec![],
            ),
            // A parent replaced takes its unchanged children with it, and brings them back after.
            (
                vec![spec("/a", "/t/a"), spec("/a/b", "/t/b"), spec("/c", "/t/c")],
                vec![spec("/a/b", "/t/b"), spec("/a", "/t/new"), spec("/c", "/t/c")],
                vec!["-/a/b", "-/a", "+/a", "+/a/b"],
            ),
            // A chain comes after the link it points into.
            (vec![], vec![spec("/c", "view:/a/x"), spec("/a", "/t/a")], vec!["+/a", "+/c"]),
            // A cycle of chains keeps the given order.
            (vec![], vec![spec("/p", "view:/q"), spec("/q", "view:/p")], vec!["+/p", "+/q"]),
            // The root link comes first.
            (vec![], vec![spec("/a", "/t/a"), spec("/", "/t/root")], vec!["+/", "+/a"]),
        ];
        for (i, (now, wanted, want)) in cases.into_iter().enumerate() {
            let got = show(&plan(&live(&now), &wanted, CasePolicy::Sensitive));
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn names_compare_under_the_case_policy() {
        let now = live(&[spec("/Foo", "view:/Bar")]);
        let wanted = [spec("/foo", "view:/BAR")];
        assert!(plan(&now, &wanted, CasePolicy::Insensitive).is_empty());
        assert_eq!(show(&plan(&now, &wanted, CasePolicy::Sensitive)), ["-/Foo", "+/foo"]);
    }

    #[test]
    fn removal_order_is_deepest_first_then_newest_first() {
        let now =
            live(&[spec("/a", "/t/a"), spec("/b", "/t/b"), spec("/a/x/y", "/t/y"), spec("/a/x", "/t/x")]);
        assert_eq!(show(&plan(&now, &[], CasePolicy::Sensitive)), ["-/a/x/y", "-/a/x", "-/b", "-/a"]);
    }
}
