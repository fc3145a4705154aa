//! Indexes over the live tickets, so that the hot paths cost O(log n) in live tickets, not O(n).
//!
//! [`QueueIndex`] is derived from `QueueState::tickets` and nothing else (plus the clinic day):
//! `QueueState` updates it on every change of a ticket ([`QueueIndex::update`]), and rebuilds it
//! after a load or a day change ([`QueueIndex::build`]). It holds:
//!
//! * per service, the waiting tickets in call order ([`super::Ticket::order_key`]: rank, then
//!   the time it counts as queued — a priority ticket's head start earlier — then id) — the
//!   next-ticket rule reads the first, positions count the keys before a ticket ([`RankTree`]);
//! * per service, the waiting tickets already passed over, by their pass count (anti-starvation);
//! * every live ticket that was called, by call time (the displays' recent calls);
//! * per number prefix, the ordinals held by tickets carried over from earlier days;
//! * per service and class, today's tickets by issue time ([`Arrivals`]): how many of a class
//!   arrived in a window, in O(log n), for the expected inflow of higher classes in a wait
//!   estimate.
//!
//! Invariant (property-tested in `proptests.rs`): the index equals `QueueIndex::build` of the
//! state it belongs to, and every answer it gives equals the naive scan over all live tickets.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::SignedDuration;
use jiff::civil::Date;

use super::ticket::effective_key;
use super::{PriorityClass, ServiceId, Ticket, TicketId, TicketState, Timestamp};

/// A waiting ticket's place in the next-ticket rule's order ([`super::Ticket::order_key`]):
/// rank (urgent, appointment, walk-in), the time it counts as queued at, id.
pub type OrderKey = (u8, Timestamp, TicketId);

/// A passed-over ticket's key among the starving ([`super::Ticket::starve_key`]): lowest rank
/// first, then call order.
pub type StarveKey = (Reverse<u8>, Timestamp, TicketId);

/// The waiting tickets of one service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceQueue {
    /// In call order.
    pub order: BTreeSet<OrderKey>,
    /// The same keys, counted: how many come before a key, in O(log n).
    ranks: RankTree<OrderKey>,
    /// The waiting tickets passed over at least once, by their pass count.
    pub passed: BTreeMap<u32, BTreeSet<StarveKey>>,
}

impl ServiceQueue {
    /// The first ticket in call order at `now`, by its key at `now` (an appointment whose slot
    /// has not come stands among the walk-ins at its slot time, see
    /// [`super::Ticket::order_key_at`]): O(log n).
    pub fn first_at(&self, now: Timestamp) -> Option<OrderKey> {
        let first = *self.order.first()?;
        let appointment = PriorityClass::Appointment.rank();
        if first.0 != appointment || first.1 <= now {
            return Some(first);
        }
        // The earliest booked slot is not due, so none is: the first walk-in or the slot.
        let walk_in = self
            .order
            .range((appointment + 1, Timestamp::MIN, TicketId(0))..)
            .next()
            .copied();
        let slot = effective_key(first, now);
        Some(walk_in.map_or(slot, |w| w.min(slot)))
    }

    /// How many waiting tickets come before `key` in call order.
    pub fn rank(&self, key: &OrderKey) -> usize {
        self.ranks.rank(key)
    }

    /// How many waiting tickets of key rank `class` count as queued at or before `cutoff` (a
    /// priority ticket has the walk-ins' rank and its head start): O(log n).
    pub fn count_queued_by(&self, class: u8, cutoff: Timestamp) -> usize {
        let end = self.ranks.rank(&(class, cutoff, TicketId(u64::MAX)));
        let start = self.ranks.rank(&(class, Timestamp::MIN, TicketId(0)));
        end.saturating_sub(start)
    }

    fn insert(&mut self, t: &Ticket, head_start: SignedDuration) {
        let key = t.order_key(head_start);
        if self.order.insert(key) {
            self.ranks.insert(key);
        }
        if t.passed_over > 0 {
            self.passed
                .entry(t.passed_over)
                .or_default()
                .insert(t.starve_key(head_start));
        }
    }

    fn remove(&mut self, t: &Ticket, head_start: SignedDuration) {
        let key = t.order_key(head_start);
        if self.order.remove(&key) {
            self.ranks.remove(&key);
        }
        if t.passed_over > 0
            && let Some(set) = self.passed.get_mut(&t.passed_over)
        {
            set.remove(&t.starve_key(head_start));
            if set.is_empty() {
                self.passed.remove(&t.passed_over);
            }
        }
    }
}

/// The indexes of a [`super::QueueState`]. See the module's documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueIndex {
    /// The priority head start the call order is built with (the clinic's setting).
    pub head_start: SignedDuration,
    /// Waiting tickets per service (services with nobody waiting are absent).
    pub waiting: HashMap<ServiceId, ServiceQueue>,
    /// Live tickets that were called (they have a call time and a room), by call time.
    pub calls: BTreeSet<(Timestamp, TicketId)>,
    /// Per prefix: ordinal → how many live tickets of earlier days hold it.
    pub carried: HashMap<String, BTreeMap<u32, u32>>,
    /// Today's tickets per service (any state), by class and issue time (services without
    /// tickets today are absent).
    pub arrivals: HashMap<ServiceId, Arrivals>,
}

impl Default for QueueIndex {
    fn default() -> Self {
        Self {
            head_start: super::rules::PRIORITY_HEAD_START,
            waiting: HashMap::new(),
            calls: BTreeSet::new(),
            carried: HashMap::new(),
            arrivals: HashMap::new(),
        }
    }
}

/// Classes a ticket can have ([`PriorityClass::rank`] is below this).
const CLASSES: usize = 4;

/// Today's tickets of one service, per class rank, by issue time: how many of a class were
/// issued in a window costs O(log n).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Arrivals {
    by_class: [RankTree<(Timestamp, TicketId)>; CLASSES],
}

impl Arrivals {
    /// How many tickets of class rank `class` were issued after `from` and at or before `to`.
    pub fn count(&self, class: u8, from: Timestamp, to: Timestamp) -> usize {
        self.by_class.get(usize::from(class)).map_or(0, |tree| {
            let end = tree.rank(&(to, TicketId(u64::MAX)));
            end.saturating_sub(tree.rank(&(from, TicketId(u64::MAX))))
        })
    }

    /// The first issue time of the day, any class.
    pub fn first(&self) -> Option<Timestamp> {
        self.by_class
            .iter()
            .filter_map(|t| t.first().map(|k| k.0))
            .min()
    }

    /// The latest issue time, any class.
    pub fn last(&self) -> Option<Timestamp> {
        self.by_class
            .iter()
            .filter_map(|t| t.last().map(|k| k.0))
            .max()
    }

    fn is_empty(&self) -> bool {
        self.by_class.iter().all(RankTree::is_empty)
    }
}

/// What [`Arrivals`] knows of a ticket: its service, class rank, issue time and id (`None`
/// unless it was issued today).
fn arrival_key(t: &Ticket, today: Date) -> Option<(&ServiceId, u8, (Timestamp, TicketId))> {
    (t.day == today).then(|| (&t.service, t.priority.rank(), (t.created_at, t.id)))
}

/// The prefix part of a number (`A` of `A001`).
pub fn prefix_of(number: &str) -> &str {
    number.trim_end_matches(|c: char| c.is_ascii_digit())
}

impl QueueIndex {
    /// The index of `tickets` on clinic day `today`, in call order with a priority head start
    /// of `head_start` (O(n log n): at load, day change and a change of the setting only).
    pub fn build<'a>(
        tickets: impl IntoIterator<Item = &'a Ticket>,
        today: Date,
        head_start: SignedDuration,
    ) -> Self {
        let mut index = Self {
            head_start,
            ..Self::default()
        };
        for t in tickets {
            index.add(t, today);
            index.add_arrival(t, today);
        }
        index
    }

    /// A ticket changed from `old` to `new` (either absent: it appeared or left).
    pub fn update(&mut self, old: Option<&Ticket>, new: Option<&Ticket>, today: Date) {
        if let Some(old) = old {
            self.sub(old, today);
        }
        if let Some(new) = new {
            self.add(new, today);
        }
        // Most changes (a call, a pass) keep the issue time: skip the tree then.
        let same = match (old, new) {
            (Some(o), Some(n)) => arrival_key(o, today) == arrival_key(n, today),
            _ => false,
        };
        if !same {
            if let Some(old) = old {
                self.sub_arrival(old, today);
            }
            if let Some(new) = new {
                self.add_arrival(new, today);
            }
        }
    }

    /// Today's arrivals of `service`, if any.
    pub fn arrivals(&self, service: &ServiceId) -> Option<&Arrivals> {
        self.arrivals.get(service)
    }

    fn add_arrival(&mut self, t: &Ticket, today: Date) {
        if let Some((service, class, key)) = arrival_key(t, today)
            && let Some(tree) = self
                .arrivals
                .entry(service.clone())
                .or_default()
                .by_class
                .get_mut(usize::from(class))
            && tree.rank(&key) == tree.rank(&(key.0, TicketId(key.1.0.saturating_add(1))))
        {
            tree.insert(key);
        }
    }

    fn sub_arrival(&mut self, t: &Ticket, today: Date) {
        if let Some((service, class, key)) = arrival_key(t, today)
            && let Some(arrivals) = self.arrivals.get_mut(service)
        {
            if let Some(tree) = arrivals.by_class.get_mut(usize::from(class)) {
                tree.remove(&key);
            }
            if arrivals.is_empty() {
                self.arrivals.remove(service);
            }
        }
    }

    /// The waiting tickets of `service`, if any.
    pub fn service(&self, service: &ServiceId) -> Option<&ServiceQueue> {
        self.waiting.get(service)
    }

    /// How many tickets wait for `service`.
    pub fn waiting_count(&self, service: &ServiceId) -> usize {
        self.waiting.get(service).map_or(0, |q| q.order.len())
    }

    /// Whether a live ticket of an earlier day holds `ordinal` of `prefix`.
    pub fn carried_holds(&self, prefix: &str, ordinal: u32) -> bool {
        self.carried
            .get(prefix)
            .is_some_and(|o| o.contains_key(&ordinal))
    }

    fn add(&mut self, t: &Ticket, today: Date) {
        if t.state == TicketState::Waiting {
            let head_start = self.head_start;
            self.waiting
                .entry(t.service.clone())
                .or_default()
                .insert(t, head_start);
        }
        if let (Some(at), Some(_)) = (t.called_at, &t.room) {
            self.calls.insert((at, t.id));
        }
        if t.day < today {
            *self
                .carried
                .entry(prefix_of(&t.number).to_owned())
                .or_default()
                .entry(t.ordinal)
                .or_insert(0) += 1;
        }
    }

    fn sub(&mut self, t: &Ticket, today: Date) {
        if t.state == TicketState::Waiting
            && let Some(queue) = self.waiting.get_mut(&t.service)
        {
            queue.remove(t, self.head_start);
            if queue.order.is_empty() && queue.passed.is_empty() {
                self.waiting.remove(&t.service);
            }
        }
        if let (Some(at), Some(_)) = (t.called_at, &t.room) {
            self.calls.remove(&(at, t.id));
        }
        if t.day < today
            && let Some(ordinals) = self.carried.get_mut(prefix_of(&t.number))
        {
            if let Some(count) = ordinals.get_mut(&t.ordinal) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    ordinals.remove(&t.ordinal);
                }
            }
            if ordinals.is_empty() {
                self.carried.remove(prefix_of(&t.number));
            }
        }
    }
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node<K> {
    key: K,
    priority: u32,
    left: u32,
    right: u32,
    size: u32,
}

/// A set of distinct keys that counts the keys below any key in O(log n): a treap (a binary
/// search tree kept balanced by random priorities) whose nodes know their subtree's size.
/// Nodes live in one vector; freed slots are reused. Two trees are equal when they hold the
/// same keys, whatever their shapes.
#[derive(Clone, Debug)]
pub struct RankTree<K> {
    nodes: Vec<Node<K>>,
    free: Vec<u32>,
    root: u32,
    seed: u32,
}

impl<K> Default for RankTree<K> {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            seed: 0x9E37_79B9,
        }
    }
}

impl<K: Ord + Copy> PartialEq for RankTree<K> {
    fn eq(&self, other: &Self) -> bool {
        self.keys() == other.keys()
    }
}

impl<K: Ord + Copy> RankTree<K> {
    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.size(self.root) as usize
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.root == NIL
    }

    /// The smallest key.
    pub fn first(&self) -> Option<K> {
        self.edge(|node| node.left)
    }

    /// The largest key.
    pub fn last(&self) -> Option<K> {
        self.edge(|node| node.right)
    }

    fn edge(&self, next: impl Fn(&Node<K>) -> u32) -> Option<K> {
        let mut n = self.root;
        let mut key = None;
        while n != NIL {
            let node = &self.nodes[n as usize];
            key = Some(node.key);
            n = next(node);
        }
        key
    }

    /// How many keys are below `key`.
    pub fn rank(&self, key: &K) -> usize {
        let mut n = self.root;
        let mut below = 0;
        while n != NIL {
            let node = &self.nodes[n as usize];
            if node.key < *key {
                below += self.size(node.left) + 1;
                n = node.right;
            } else {
                n = node.left;
            }
        }
        below as usize
    }

    /// Adds `key`; the caller knows it is not there yet.
    pub fn insert(&mut self, key: K) {
        let node = self.alloc(key);
        let (left, right) = self.split(self.root, &key);
        let left = self.merge(left, node);
        self.root = self.merge(left, right);
    }

    /// Removes `key` if it is there.
    pub fn remove(&mut self, key: &K) {
        self.root = self.remove_at(self.root, key);
    }

    /// The keys in order (for equality and tests).
    pub fn keys(&self) -> Vec<K> {
        let mut out = Vec::with_capacity(self.len());
        let mut stack = Vec::new();
        let mut n = self.root;
        while n != NIL || !stack.is_empty() {
            while n != NIL {
                stack.push(n);
                n = self.nodes[n as usize].left;
            }
            if let Some(top) = stack.pop() {
                out.push(self.nodes[top as usize].key);
                n = self.nodes[top as usize].right;
            }
        }
        out
    }

    fn size(&self, n: u32) -> u32 {
        if n == NIL {
            0
        } else {
            self.nodes[n as usize].size
        }
    }

    fn fix(&mut self, n: u32) {
        let (l, r) = {
            let node = &self.nodes[n as usize];
            (node.left, node.right)
        };
        self.nodes[n as usize].size = 1 + self.size(l) + self.size(r);
    }

    fn alloc(&mut self, key: K) -> u32 {
        // xorshift32: deterministic, so a replay builds the same shapes
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.seed = x;
        let node = Node {
            key,
            priority: x,
            left: NIL,
            right: NIL,
            size: 1,
        };
        match self.free.pop() {
            Some(slot) => {
                self.nodes[slot as usize] = node;
                slot
            }
            None => {
                self.nodes.push(node);
                u32::try_from(self.nodes.len() - 1).unwrap_or(NIL)
            }
        }
    }

    /// Splits `t` into the keys below `key` and the rest.
    fn split(&mut self, t: u32, key: &K) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.nodes[t as usize].key < *key {
            let (l, r) = self.split(self.nodes[t as usize].right, key);
            self.nodes[t as usize].right = l;
            self.fix(t);
            (t, r)
        } else {
            let (l, r) = self.split(self.nodes[t as usize].left, key);
            self.nodes[t as usize].left = r;
            self.fix(t);
            (l, t)
        }
    }

    /// Joins two trees, every key of `a` below every key of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].priority > self.nodes[b as usize].priority {
            let right = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = right;
            self.fix(a);
            a
        } else {
            let left = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = left;
            self.fix(b);
            b
        }
    }

    fn remove_at(&mut self, t: u32, key: &K) -> u32 {
        if t == NIL {
            return NIL;
        }
        let node = &self.nodes[t as usize];
        match key.cmp(&node.key) {
            std::cmp::Ordering::Less => {
                let left = self.remove_at(node.left, key);
                self.nodes[t as usize].left = left;
                self.fix(t);
                t
            }
            std::cmp::Ordering::Greater => {
                let right = self.remove_at(node.right, key);
                self.nodes[t as usize].right = right;
                self.fix(t);
                t
            }
            std::cmp::Ordering::Equal => {
                let (l, r) = (node.left, node.right);
                self.free.push(t);
                self.merge(l, r)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Inserting and removing keys in any order: the tree holds what a `BTreeSet` holds and
        /// counts the keys below any key as the set does.
        #[test]
        fn rank_tree_counts_like_a_sorted_set(
            ops in prop::collection::vec((any::<bool>(), 0u16..300), 0..600),
            probes in prop::collection::vec(0u16..310, 1..20),
        ) {
            let mut tree = RankTree::default();
            let mut set = BTreeSet::new();
            for (insert, key) in ops {
                if insert {
                    if set.insert(key) {
                        tree.insert(key);
                    }
                } else {
                    set.remove(&key);
                    tree.remove(&key);
                }
            }
            prop_assert_eq!(tree.len(), set.len());
            prop_assert_eq!(tree.keys(), set.iter().copied().collect::<Vec<_>>());
            for p in probes {
                prop_assert_eq!(tree.rank(&p), set.range(..p).count());
            }
        }
    }

    #[test]
    fn a_large_tree_stays_shallow_enough_to_recurse() {
        // 200,000 keys in ascending order (how tickets arrive): the treap's random priorities
        // keep it balanced, so the recursive split and merge do not overflow the stack.
        let mut tree = RankTree::default();
        for k in 0..200_000u32 {
            tree.insert(k);
        }
        assert_eq!(tree.rank(&150_000), 150_000);
        for k in (0..200_000u32).step_by(2) {
            tree.remove(&k);
        }
        assert_eq!(tree.len(), 100_000);
        assert_eq!(tree.rank(&150_001), 75_000);
    }
}
