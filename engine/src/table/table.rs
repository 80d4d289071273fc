//! The table itself: dense columns plus the id <-> position maps.

use bytemuck::Pod;

use super::{Col, Column, ColumnId, RowId, TableError, TableId};
use crate::config::CAPACITY_MAX;

/// Sentinel in `position_of` for an index with no live row.
const VACANT: u32 = u32::MAX;

/// A struct-of-arrays table with a fixed capacity.
///
/// Live rows are packed at the front of every column, so a system iterates
/// a column as a plain slice of `len()` elements. Removal moves the last row
/// into the hole (O(1)); row ids stay valid because they map to positions
/// through an indirection, never by position.
pub struct Table {
    id: TableId,
    name: String,
    capacity: u32,
    columns: Vec<Column>,
    /// Position -> id of the live row there (first `len` entries used).
    ids: Vec<RowId>,
    /// Index -> position of its live row, or VACANT.
    position_of: Box<[u32]>,
    /// Index -> current generation.
    generation: Box<[u32]>,
    /// Indexes free for reuse.
    free: Vec<u32>,
    /// Indexes never handed out start here.
    next_fresh: u32,
}

impl Table {
    /// A table with no columns and room for `capacity` rows. All memory is
    /// allocated here (and in [`Table::add_column`]), never by later calls.
    pub fn new(id: TableId, name: &str, capacity: usize) -> Result<Table, TableError> {
        if capacity == 0 || capacity as u64 > CAPACITY_MAX {
            return Err(TableError::CapacityTooLarge { capacity });
        }
        Ok(Table {
            id,
            name: name.to_owned(),
            capacity: capacity as u32,
            columns: Vec::new(),
            ids: Vec::with_capacity(capacity),
            position_of: vec![VACANT; capacity].into_boxed_slice(),
            generation: vec![0; capacity].into_boxed_slice(),
            free: Vec::with_capacity(capacity),
            next_fresh: 0,
        })
    }

    /// Adds a zero-filled column of `T`.
    pub fn add_column<T: Pod>(&mut self, name: &str) -> Result<Col<T>, TableError> {
        if self.columns.iter().any(|c| c.name == name) {
            return Err(TableError::DuplicateColumn {
                table: self.name.clone(),
                column: name.to_owned(),
            });
        }
        self.columns
            .push(Column::new::<T>(name, self.capacity as usize)?);
        Ok(Col::new(ColumnId {
            table: self.id,
            column: self.columns.len() as u32 - 1,
        }))
    }

    /// This table's id in its world.
    pub fn id(&self) -> TableId {
        self.id
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Columns added so far.
    pub fn column_count(&self) -> usize {
        self.columns.len()
    }

    /// Live rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when no row is live.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Rows at most.
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// Ids of live rows, in column order: `ids()[p]` owns position `p`.
    pub fn ids(&self) -> &[RowId] {
        &self.ids
    }

    /// Inserts a row with every column zeroed. O(1).
    pub fn insert(&mut self) -> Result<RowId, TableError> {
        let index = match self.free.pop() {
            Some(i) => i,
            None if self.next_fresh < self.capacity => {
                self.next_fresh += 1;
                self.next_fresh - 1
            }
            None => {
                return Err(TableError::Full {
                    table: self.name.clone(),
                    capacity: self.capacity(),
                })
            }
        };
        let position = self.ids.len();
        for column in &mut self.columns {
            column.zero(position);
        }
        let id = RowId::new(index, self.generation[index as usize]);
        self.ids.push(id);
        self.position_of[index as usize] = position as u32;
        Ok(id)
    }

    /// Removes a live row. O(1): the last row moves into its position and
    /// keeps its id.
    pub fn remove(&mut self, id: RowId) -> Result<(), TableError> {
        let position = self.position(id)?;
        let last = self.ids.len() - 1;
        if position != last {
            for column in &mut self.columns {
                column.copy_within(last, position);
            }
            let moved = self.ids[last];
            self.ids[position] = moved;
            self.position_of[moved.index() as usize] = position as u32;
        }
        self.ids.pop();
        let index = id.index() as usize;
        self.position_of[index] = VACANT;
        match self.generation[index].checked_add(1) {
            Some(next) => {
                self.generation[index] = next;
                self.free.push(id.index());
            }
            // Retire the index: reusing it would let a wrapped generation
            // alias an id someone still holds.
            None => self.generation[index] = u32::MAX,
        }
        Ok(())
    }

    /// Position of a live row in every column, or `StaleId`.
    pub fn position(&self, id: RowId) -> Result<usize, TableError> {
        let index = id.index() as usize;
        let live = index < self.position_of.len()
            && self.position_of[index] != VACANT
            && self.generation[index] == id.generation();
        if live {
            Ok(self.position_of[index] as usize)
        } else {
            Err(TableError::StaleId {
                table: self.name.clone(),
                id,
            })
        }
    }

    /// True if `id` names a live row.
    pub fn contains(&self, id: RowId) -> bool {
        self.position(id).is_ok()
    }

    /// Live rows of a column, as a slice in position order.
    pub fn column<T: Pod>(&self, col: Col<T>) -> Result<&[T], TableError> {
        let column = self.checked_column::<T>(col.id)?;
        // SAFETY: type checked; len <= capacity; `&self` excludes writers
        // (mutation needs `&mut self`, and the scheduler only hands out
        // column slices while no `&mut Table` exists).
        Ok(unsafe { column.slice::<T>(0, self.len()) })
    }

    /// Live rows of a column, for writing.
    pub fn column_mut<T: Pod>(&mut self, col: Col<T>) -> Result<&mut [T], TableError> {
        let len = self.len();
        let column = self.checked_column::<T>(col.id)?;
        // SAFETY: type checked; `&mut self` makes this the only reference.
        Ok(unsafe { column.slice_mut_unchecked::<T>(0, len) })
    }

    /// One row's value in one column.
    pub fn get<T: Pod>(&self, id: RowId, col: Col<T>) -> Result<T, TableError> {
        let position = self.position(id)?;
        Ok(self.column(col)?[position])
    }

    /// Sets one row's value in one column.
    pub fn set<T: Pod>(&mut self, id: RowId, col: Col<T>, value: T) -> Result<(), TableError> {
        let position = self.position(id)?;
        self.column_mut(col)?[position] = value;
        Ok(())
    }

    pub(crate) fn checked_column<T: Pod>(&self, id: ColumnId) -> Result<&Column, TableError> {
        let column = self
            .columns
            .get(id.column as usize)
            .filter(|_| id.table == self.id);
        let column = column.ok_or_else(|| TableError::ForeignColumn {
            table: self.name.clone(),
            column: id,
        })?;
        column.check_type::<T>()?;
        Ok(column)
    }
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("name", &self.name)
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field(
                "columns",
                &self.columns.iter().map(|c| &c.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small enough for Miri: exercises every unsafe path of `Column`
    /// (zeroing, moving the last row, typed slices, dealloc).
    #[test]
    fn insert_remove_and_slices_keep_rows_and_ids() {
        let mut t = Table::new(TableId(0), "t", 4).unwrap();
        let a = t.add_column::<u64>("a").unwrap();
        let b = t.add_column::<u8>("b").unwrap();
        let ids: Vec<RowId> = (0..4).map(|_| t.insert().unwrap()).collect();
        for (i, id) in ids.iter().enumerate() {
            t.set(*id, a, i as u64 * 10).unwrap();
            t.set(*id, b, i as u8).unwrap();
        }
        assert!(matches!(t.insert(), Err(TableError::Full { .. })));
        t.remove(ids[1]).unwrap();
        assert_eq!(t.column(a).unwrap(), &[0, 30, 20]);
        assert_eq!(t.get(ids[3], b).unwrap(), 3);
        let fresh = t.insert().unwrap();
        assert_eq!((t.get(fresh, a).unwrap(), t.get(fresh, b).unwrap()), (0, 0));
        t.column_mut(b).unwrap().iter_mut().for_each(|v| *v += 1);
        assert_eq!(t.column(b).unwrap(), &[1, 4, 3, 1]);
        assert!(matches!(t.get(ids[1], a), Err(TableError::StaleId { .. })));
    }
}
