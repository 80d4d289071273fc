//! What a running system sees: its declared columns, the tick number and
//! the tick's time.

use std::cell::Cell;

use bytemuck::Pod;

use super::system::{AccessError, Mode, System};
use crate::table::{Col, ColumnId, RowId, Table, TableId};
use crate::world::World;

/// Lends a running system the columns it declared.
///
/// Each declared column can be borrowed once for writing, or any number of
/// times for reading, per run; the scheduler guarantees that no other
/// system touching a written column runs meanwhile.
pub struct SystemContext<'a> {
    pub(crate) world: &'a World,
    pub(crate) system: &'a System,
    /// For a split system: the chunk's rows of the split table.
    pub(crate) chunk: Option<(TableId, usize, usize)>,
    pub(crate) tick: u64,
    pub(crate) now_ns: u64,
    /// Declared-access indexes lent for reading / for writing this run.
    pub(crate) lent_shared: Cell<u64>,
    pub(crate) lent_exclusive: Cell<u64>,
}

impl<'a> SystemContext<'a> {
    /// The tick being run (1 for the first).
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// The clock's time at the start of this tick, nanoseconds. Read once
    /// per tick, so systems need no clock read per row.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Live rows of a table this run covers: the chunk's for the split
    /// table, all otherwise.
    pub fn rows(&self, table: TableId) -> Result<std::ops::Range<usize>, AccessError> {
        let t = self.world.table(table)?;
        let (start, end) = self.range_of(t);
        Ok(start..end)
    }

    /// Ids of the rows this run covers, aligned with the column slices.
    pub fn ids(&self, table: TableId) -> Result<&[RowId], AccessError> {
        let t = self.world.table(table)?;
        let (start, end) = self.range_of(t);
        Ok(&t.ids()[start..end])
    }

    /// A declared column, for reading.
    pub fn read<T: Pod>(&self, col: Col<T>) -> Result<&[T], AccessError> {
        let bit = 1u64 << self.declared(col.id, Mode::Read)?;
        if self.lent_exclusive.get() & bit != 0 {
            return Err(self.already_borrowed(col.id));
        }
        self.lent_shared.set(self.lent_shared.get() | bit);
        let table = self.world.table(col.id.table)?;
        let column = table.checked_column::<T>(col.id)?;
        let (start, end) = self.range_of(table);
        // SAFETY: T checked; start <= end <= len <= capacity; no writer: those
        // of this column run in other stages, this system's other chunks have
        // disjoint rows, and a write borrow here was refused above.
        Ok(unsafe { column.slice::<T>(start, end) })
    }

    /// A declared column, for writing. At most once per run.
    #[allow(clippy::mut_from_ref)]
    pub fn write<T: Pod>(&self, col: Col<T>) -> Result<&mut [T], AccessError> {
        let bit = 1u64 << self.declared(col.id, Mode::Write)?;
        if (self.lent_exclusive.get() | self.lent_shared.get()) & bit != 0 {
            return Err(self.already_borrowed(col.id));
        }
        self.lent_exclusive.set(self.lent_exclusive.get() | bit);
        let table = self.world.table(col.id.table)?;
        let column = table.checked_column::<T>(col.id)?;
        let (start, end) = self.range_of(table);
        // Exclusive: no other system touching this column runs in this stage;
        // other chunks of this system get disjoint rows (a split system may
        // write only its split table, checked when it was added).
        // SAFETY: T checked; start <= end <= len <= capacity; exclusive as
        // above, and `lent_*` refuse a second borrow within this run.
        Ok(unsafe { column.slice_mut_unchecked::<T>(start, end) })
    }

    fn declared(&self, column: ColumnId, mode: Mode) -> Result<usize, AccessError> {
        let found = self
            .system
            .access
            .iter()
            .position(|(c, m)| *c == column && (mode == Mode::Read || *m == Mode::Write));
        found.ok_or_else(|| AccessError::NotDeclared {
            system: self.system.name.clone(),
            column,
            mode,
        })
    }

    fn already_borrowed(&self, column: ColumnId) -> AccessError {
        AccessError::AlreadyBorrowed {
            system: self.system.name.clone(),
            column,
        }
    }

    fn range_of(&self, table: &Table) -> (usize, usize) {
        match self.chunk {
            Some((t, start, end)) if t == table.id() => (start, end),
            _ => (0, table.len()),
        }
    }
}
