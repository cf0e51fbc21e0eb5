//! The console's views, in tab order.

/// One tab of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum View {
    /// Nodes, roles, health and Raft indices.
    Cluster,
    /// Queued and running jobs, progress and losses.
    Jobs,
    /// Datasets and their privacy budgets.
    Datasets,
    /// Generations and their quality reports.
    Generations,
    /// The log of cluster events.
    Events,
}

impl View {
    /// Every view, in tab order.
    pub const ALL: [View; 5] = [
        View::Cluster,
        View::Jobs,
        View::Datasets,
        View::Generations,
        View::Events,
    ];

    /// Its position in [`View::ALL`].
    pub fn index(self) -> usize {
        match self {
            View::Cluster => 0,
            View::Jobs => 1,
            View::Datasets => 2,
            View::Generations => 3,
            View::Events => 4,
        }
    }

    /// The view at `index` (wrapping).
    pub fn at(index: usize) -> View {
        Self::ALL[index % Self::ALL.len()]
    }

    /// The next tab.
    pub fn next(self) -> View {
        Self::at(self.index() + 1)
    }

    /// The previous tab.
    pub fn previous(self) -> View {
        Self::at(self.index() + Self::ALL.len() - 1)
    }

    /// Its tab title.
    pub fn title(self) -> &'static str {
        match self {
            View::Cluster => "Cluster",
            View::Jobs => "Jobs",
            View::Datasets => "Datasets",
            View::Generations => "Generations",
            View::Events => "Events",
        }
    }
}
