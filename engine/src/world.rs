//! The world: every columnar table of one engine.

use bytemuck::Pod;

use crate::table::{Col, ColumnId, Table, TableError, TableId};

/// Owns the tables. Built at start-up (tables and columns added, rows
/// inserted); during a tick the scheduler lends columns to systems; between
/// ticks the host has `&mut World` for structural changes.
#[derive(Debug, Default)]
pub struct World {
    tables: Vec<Table>,
}

impl World {
    /// An empty world.
    pub fn new() -> World {
        World::default()
    }

    /// Adds a table with room for `capacity` rows.
    pub fn add_table(&mut self, name: &str, capacity: usize) -> Result<TableId, TableError> {
        let id = TableId(self.tables.len() as u32);
        self.tables.push(Table::new(id, name, capacity)?);
        Ok(id)
    }

    /// Adds a zero-filled column of `T` to a table.
    pub fn add_column<T: Pod>(&mut self, table: TableId, name: &str) -> Result<Col<T>, TableError> {
        self.table_mut(table)?.add_column::<T>(name)
    }

    /// A table by id.
    pub fn table(&self, id: TableId) -> Result<&Table, TableError> {
        self.tables
            .get(id.0 as usize)
            .ok_or(TableError::UnknownTable { table: id.0 })
    }

    /// A table by id, for inserts, removes and writes.
    pub fn table_mut(&mut self, id: TableId) -> Result<&mut Table, TableError> {
        self.tables
            .get_mut(id.0 as usize)
            .ok_or(TableError::UnknownTable { table: id.0 })
    }

    /// A table by name.
    pub fn table_named(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name() == name)
    }

    /// Every table, in id order.
    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    /// True if the column exists (whatever its type).
    pub(crate) fn has_column(&self, id: ColumnId) -> bool {
        self.table(id.table)
            .is_ok_and(|t| (id.column as usize) < t.column_count())
    }
}
