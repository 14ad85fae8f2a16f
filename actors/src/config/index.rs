//! Agents and queues by id: lookups that do not walk the configuration's lists.

use engine::IdMap;

/// Positions of agents and queues in their lists, by id.
#[derive(Default)]
pub(super) struct Index {
    pub(super) agents: std::sync::OnceLock<IdMap<String, usize>>,
    pub(super) queues: std::sync::OnceLock<IdMap<String, usize>>,
}

impl Clone for Index {
    /// A copy of a configuration may be edited: it makes its own index.
    fn clone(&self) -> Self {
        Index::default()
    }
}

impl PartialEq for Index {
    /// Not part of what a configuration says.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Index")
    }
}

/// The item of `list` whose id is `id`: through `index` (made from the list at the first
/// lookup), and checked, so that a list edited since then is still answered right (the long
/// way).
pub(super) fn find<'a, T>(
    list: &'a [T],
    index: &std::sync::OnceLock<IdMap<String, usize>>,
    id_of: impl Fn(&T) -> &str,
    id: &str,
) -> Option<&'a T> {
    let positions = index.get_or_init(|| {
        list.iter()
            .enumerate()
            .map(|(i, x)| (id_of(x).to_owned(), i))
            .collect()
    });
    match positions.get(id).and_then(|&i| list.get(i)) {
        Some(x) if id_of(x) == id => Some(x),
        _ => list.iter().find(|x| id_of(x) == id),
    }
}
