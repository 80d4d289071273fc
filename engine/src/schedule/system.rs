//! Systems: named functions with declared column access.

use super::context::SystemContext;
use crate::table::{ColumnId, TableError, TableId};

/// How a system touches a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reads only; may run beside other readers.
    Read,
    /// Reads and writes; runs beside no other system touching the column.
    Write,
}

/// What a system run returns.
pub type SystemResult = Result<(), SystemError>;

type SystemFn = dyn Fn(&SystemContext<'_>) -> SystemResult + Send + Sync;

/// Why a system run failed. Failures are counted per system and the first
/// one is logged; the tick goes on.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// The system asked for a column it did not declare, or twice.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The system's own failure.
    #[error("{0}")]
    Failed(String),
    /// The system panicked; the panic was caught.
    #[error("the system panicked")]
    Panicked,
}

/// A refused column access inside a system.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The column is not in the system's declared access (or is declared
    /// read-only and was asked for writing).
    #[error("system `{system}` did not declare {mode:?} access to column {column:?}")]
    NotDeclared {
        /// The system's name.
        system: String,
        /// The column asked for.
        column: ColumnId,
        /// The access asked for.
        mode: Mode,
    },
    /// The column was already handed out in a way that conflicts.
    #[error("system `{system}` borrowed column {column:?} twice, once for writing")]
    AlreadyBorrowed {
        /// The system's name.
        system: String,
        /// The column asked for.
        column: ColumnId,
    },
    /// The table refused (type mismatch, foreign column).
    #[error(transparent)]
    Table(#[from] TableError),
}

/// Spreads one system's run over row ranges of a table, one range per
/// participating worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowSplit {
    /// The table whose rows are split.
    pub table: TableId,
    /// Fewest rows worth a chunk of their own.
    pub min_rows_per_chunk: usize,
}

/// A system: a name, its declared column access and its function.
pub struct System {
    pub(crate) name: String,
    pub(crate) access: Vec<(ColumnId, Mode)>,
    pub(crate) split: Option<RowSplit>,
    pub(crate) run: Box<SystemFn>,
}

impl System {
    /// A system with no declared access. The function gets a context that
    /// lends it exactly the columns declared with [`System::reads`] and
    /// [`System::writes`].
    pub fn new(
        name: impl Into<String>,
        run: impl Fn(&SystemContext<'_>) -> SystemResult + Send + Sync + 'static,
    ) -> System {
        System {
            name: name.into(),
            access: Vec::new(),
            split: None,
            run: Box::new(run),
        }
    }

    /// Declares read access to a column.
    pub fn reads(mut self, column: impl Into<ColumnId>) -> System {
        let column = column.into();
        if !self.access.iter().any(|(c, _)| *c == column) {
            self.access.push((column, Mode::Read));
        }
        self
    }

    /// Declares write (and read) access to a column.
    pub fn writes(mut self, column: impl Into<ColumnId>) -> System {
        let column = column.into();
        match self.access.iter_mut().find(|(c, _)| *c == column) {
            Some(entry) => entry.1 = Mode::Write,
            None => self.access.push((column, Mode::Write)),
        }
        self
    }

    /// Runs the system on row ranges of `table` in parallel. Columns of that
    /// table are lent for the chunk's rows only; the system may write no
    /// other table.
    pub fn split_rows(mut self, table: TableId, min_rows_per_chunk: usize) -> System {
        self.split = Some(RowSplit {
            table,
            min_rows_per_chunk: min_rows_per_chunk.max(1),
        });
        self
    }

    /// The system's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether two systems may not run at the same time: one writes a
    /// column the other reads or writes.
    pub fn conflicts_with(&self, other: &System) -> bool {
        self.access.iter().any(|(column, mode)| {
            other
                .access
                .iter()
                .any(|(c, m)| c == column && (*mode == Mode::Write || *m == Mode::Write))
        })
    }
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("System")
            .field("name", &self.name)
            .field("access", &self.access)
            .field("split", &self.split)
            .finish_non_exhaustive()
    }
}
