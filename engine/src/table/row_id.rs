//! Generational row ids.

use bytemuck::{Pod, Zeroable};

/// Identifies a row of one table for as long as the row lives.
///
/// The index names a slot in the table's id space; the generation counts how
/// often that index was reused. Removing a row bumps its index's generation,
/// so an id kept past removal is refused as stale instead of aliasing the
/// next row that takes the index. An index whose generation would wrap is
/// retired, never reused.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Pod, Zeroable)]
pub struct RowId {
    index: u32,
    generation: u32,
}

impl RowId {
    pub(crate) const fn new(index: u32, generation: u32) -> RowId {
        RowId { index, generation }
    }

    /// The index in the table's id space (not the row's position in a
    /// column slice, which changes when other rows are removed).
    pub const fn index(self) -> u32 {
        self.index
    }

    /// How many times the index had been reused when this id was issued.
    pub const fn generation(self) -> u32 {
        self.generation
    }
}

impl std::fmt::Display for RowId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}v{}", self.index, self.generation)
    }
}
