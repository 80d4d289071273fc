//! Columnar tables: struct-of-arrays storage with a capacity fixed at
//! start-up and generational row ids.

mod column;
mod row_id;
#[allow(clippy::module_inception)]
mod table;

pub(crate) use column::Column;
pub use column::{Col, ColumnId};
pub use row_id::RowId;
pub use table::Table;

/// Names one table of a [`World`](crate::World).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId(pub(crate) u32);

impl TableId {
    /// The table's position in its world.
    pub fn index(self) -> u32 {
        self.0
    }
}

/// Why a table operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// Every row is in use.
    #[error("table `{table}` is full ({capacity} rows)")]
    Full {
        /// The table's name.
        table: String,
        /// Its fixed capacity.
        capacity: usize,
    },
    /// The id's row was removed (or the id never belonged to this table).
    #[error("row id {id} is stale or unknown in table `{table}`")]
    StaleId {
        /// The table's name.
        table: String,
        /// The refused id.
        id: RowId,
    },
    /// A column handle was used with a table it does not belong to.
    #[error("column {column:?} does not belong to table `{table}`")]
    ForeignColumn {
        /// The table's name.
        table: String,
        /// The foreign handle.
        column: ColumnId,
    },
    /// A column was read as a type other than the one it stores.
    #[error("column `{column}` stores {stored}, not {requested}")]
    TypeMismatch {
        /// The column's name.
        column: String,
        /// The stored element type.
        stored: &'static str,
        /// The requested element type.
        requested: &'static str,
    },
    /// Columns of zero-sized types carry nothing.
    #[error("column `{column}` has a zero-sized element type")]
    ZeroSizedColumn {
        /// The column's name.
        column: String,
    },
    /// Capacity is zero or larger than a row index can address.
    #[error("table capacity {capacity} is outside 1..=1073741824")]
    CapacityTooLarge {
        /// The refused capacity.
        capacity: usize,
    },
    /// No table has this id in this world.
    #[error("no table with id {table}")]
    UnknownTable {
        /// The refused id.
        table: u32,
    },
    /// Two columns of one table share a name.
    #[error("table `{table}` already has a column named `{column}`")]
    DuplicateColumn {
        /// The table's name.
        table: String,
        /// The repeated name.
        column: String,
    },
}
