//! The layout of a forest over the columns: a root per tree, breadth-first order, and
//! each non-root node's link to its parent. Belief propagation and sampling both walk it.

/// How a node hangs from its parent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ParentLink {
    /// The parent node.
    pub(crate) parent: usize,
    /// The index of the edge joining them.
    pub(crate) edge: usize,
    /// Whether the parent is the edge's first column, that is, the rows of its table.
    pub(crate) parent_is_row: bool,
}

/// A forest over `0..nodes` rooted at the smallest node of each tree.
#[derive(Debug, Clone)]
pub(crate) struct Forest {
    /// Every node once, each tree's root before its descendants, parents before children.
    pub(crate) order: Vec<usize>,
    /// The link to the parent; `None` for roots.
    pub(crate) parent: Vec<Option<ParentLink>>,
}

impl Forest {
    /// Lays out the forest of `edges` over `nodes` nodes. Edges that leave the range, join
    /// a node to itself or close a cycle are left out; their indices are returned.
    pub(crate) fn build(nodes: usize, edges: &[(usize, usize)]) -> (Self, Vec<usize>) {
        let mut components = DisjointSets::new(nodes);
        let mut adjacency: Vec<Vec<(usize, usize)>> = vec![Vec::new(); nodes];
        let mut skipped = Vec::new();
        for (index, &(a, b)) in edges.iter().enumerate() {
            if a >= nodes || b >= nodes || !components.union(a, b) {
                skipped.push(index);
                continue;
            }
            adjacency[a].push((b, index));
            adjacency[b].push((a, index));
        }
        let mut parent = vec![None; nodes];
        let mut visited = vec![false; nodes];
        let mut order = Vec::with_capacity(nodes);
        for root in 0..nodes {
            if visited[root] {
                continue;
            }
            visited[root] = true;
            let start = order.len();
            order.push(root);
            let mut head = start;
            while head < order.len() {
                let node = order[head];
                head += 1;
                for &(next, edge) in &adjacency[node] {
                    if visited[next] {
                        continue;
                    }
                    visited[next] = true;
                    parent[next] = Some(ParentLink {
                        parent: node,
                        edge,
                        parent_is_row: edges[edge].0 == node,
                    });
                    order.push(next);
                }
            }
        }
        (Self { order, parent }, skipped)
    }
}

/// Union–find with path halving, for Kruskal-style selection and cycle checks.
#[derive(Debug, Clone)]
pub(crate) struct DisjointSets {
    parent: Vec<usize>,
}

impl DisjointSets {
    /// `nodes` singleton sets.
    pub(crate) fn new(nodes: usize) -> Self {
        Self {
            parent: (0..nodes).collect(),
        }
    }

    /// The representative of `node`'s set.
    pub(crate) fn find(&mut self, mut node: usize) -> usize {
        while self.parent[node] != node {
            self.parent[node] = self.parent[self.parent[node]];
            node = self.parent[node];
        }
        node
    }

    /// Joins the sets of `a` and `b`; false when they were already one set.
    pub(crate) fn union(&mut self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        self.parent[ra.max(rb)] = ra.min(rb);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_cycle_rejection() {
        let edges = [(1, 0), (1, 2), (0, 2), (3, 4), (5, 9)];
        let (forest, skipped) = Forest::build(5, &edges);
        assert_eq!(skipped, vec![2, 4]);
        assert_eq!(forest.order, vec![0, 1, 2, 3, 4]);
        assert_eq!(forest.parent[0], None);
        assert_eq!(
            forest.parent[1],
            Some(ParentLink {
                parent: 0,
                edge: 0,
                parent_is_row: false
            })
        );
        assert_eq!(
            forest.parent[2].map(|l| (l.parent, l.parent_is_row)),
            Some((1, true))
        );
        assert_eq!(forest.parent[4].map(|l| l.parent), Some(3));
    }
}
