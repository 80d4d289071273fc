//! One type-erased column: a fixed-capacity, zero-initialised array of a
//! `bytemuck::Pod` type, allocated once at creation.

use std::alloc::{self, Layout};
use std::any::TypeId;
use std::marker::PhantomData;
use std::ptr::NonNull;

use bytemuck::Pod;

use super::{TableError, TableId};

/// Names one column of one table in a [`World`](crate::World).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ColumnId {
    pub(crate) table: TableId,
    pub(crate) column: u32,
}

impl ColumnId {
    /// The table this column belongs to.
    pub fn table(self) -> TableId {
        self.table
    }
}

/// A typed handle to a column, returned when the column is added. Copy it
/// into systems; it is checked against the column's element type on use.
pub struct Col<T> {
    pub(crate) id: ColumnId,
    _type: PhantomData<fn() -> T>,
}

impl<T> Col<T> {
    pub(crate) fn new(id: ColumnId) -> Col<T> {
        Col {
            id,
            _type: PhantomData,
        }
    }

    /// The untyped id, for access declarations.
    pub fn id(self) -> ColumnId {
        self.id
    }
}

impl<T> Clone for Col<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Col<T> {}
impl<T> std::fmt::Debug for Col<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Col<{}>({:?})", std::any::type_name::<T>(), self.id)
    }
}
impl<T> From<Col<T>> for ColumnId {
    fn from(c: Col<T>) -> ColumnId {
        c.id
    }
}

pub(crate) struct Column {
    pub(crate) name: String,
    type_id: TypeId,
    type_name: &'static str,
    elem_bytes: usize,
    layout: Layout,
    /// Start of `capacity` elements. Owned by this column; only ever
    /// accessed through this pointer (never through a Box or Vec), so
    /// references made from it alias nothing else.
    data: NonNull<u8>,
}

// SAFETY: a Column owns plain bytes of a Pod type (Pod: Send + Sync). Shared
// access through `&Column` only hands out memory under the rules stated on
// `slice_mut_unchecked`, whose callers guarantee exclusivity.
unsafe impl Send for Column {}
// SAFETY: as for Send; `&Column` alone gives out only shared slices unless
// the caller upholds `slice_mut_unchecked`'s contract.
unsafe impl Sync for Column {}

impl Column {
    pub(crate) fn new<T: Pod>(name: &str, capacity: usize) -> Result<Column, TableError> {
        if std::mem::size_of::<T>() == 0 {
            return Err(TableError::ZeroSizedColumn {
                column: name.to_owned(),
            });
        }
        let layout = Layout::array::<T>(capacity.max(1))
            .map_err(|_| TableError::CapacityTooLarge { capacity })?;
        // SAFETY: layout has non-zero size (capacity >= 1, T not zero-sized).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let Some(data) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        Ok(Column {
            name: name.to_owned(),
            type_id: TypeId::of::<T>(),
            type_name: std::any::type_name::<T>(),
            elem_bytes: std::mem::size_of::<T>(),
            layout,
            data,
        })
    }

    pub(crate) fn check_type<T: Pod>(&self) -> Result<(), TableError> {
        if self.type_id == TypeId::of::<T>() {
            Ok(())
        } else {
            Err(TableError::TypeMismatch {
                column: self.name.clone(),
                stored: self.type_name,
                requested: std::any::type_name::<T>(),
            })
        }
    }

    /// Elements `start..end` for reading.
    ///
    /// # Safety
    /// `T` is the column's element type (see `check_type`), `start <= end
    /// <= capacity`, and no `&mut` to these elements lives meanwhile.
    pub(crate) unsafe fn slice<T: Pod>(&self, start: usize, end: usize) -> &[T] {
        debug_assert!(self.check_type::<T>().is_ok());
        debug_assert!(start <= end && end * self.elem_bytes <= self.layout.size());
        // SAFETY: the allocation holds `capacity` zero-initialised (hence
        // valid, T: Pod) elements of T, aligned by `layout`; the caller
        // bounds the range and excludes writers.
        unsafe {
            std::slice::from_raw_parts(self.data.as_ptr().cast::<T>().add(start), end - start)
        }
    }

    /// Elements `start..end` for writing, from a shared reference.
    ///
    /// # Safety
    /// `T` is the column's element type, `start <= end <= capacity`, and for
    /// as long as the slice lives no other reference to these elements
    /// exists. The scheduler guarantees this from declared accesses.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice_mut_unchecked<T: Pod>(&self, start: usize, end: usize) -> &mut [T] {
        debug_assert!(self.check_type::<T>().is_ok());
        debug_assert!(start <= end && end * self.elem_bytes <= self.layout.size());
        // SAFETY: as in `slice`; exclusivity of the range is the caller's
        // contract, and the range lies inside the allocation.
        unsafe {
            std::slice::from_raw_parts_mut(self.data.as_ptr().cast::<T>().add(start), end - start)
        }
    }

    /// Copies element `from` over element `to` (both below capacity).
    pub(crate) fn copy_within(&mut self, from: usize, to: usize) {
        let cap_bytes = self.layout.size();
        assert!(
            (from + 1) * self.elem_bytes <= cap_bytes && (to + 1) * self.elem_bytes <= cap_bytes
        );
        // SAFETY: both ranges lie inside the allocation (asserted), `&mut
        // self` excludes every other access, and `copy` allows overlap.
        unsafe {
            let base = self.data.as_ptr();
            std::ptr::copy(
                base.add(from * self.elem_bytes),
                base.add(to * self.elem_bytes),
                self.elem_bytes,
            );
        }
    }

    /// Zeroes element `at` (below capacity).
    pub(crate) fn zero(&mut self, at: usize) {
        assert!((at + 1) * self.elem_bytes <= self.layout.size());
        // SAFETY: in bounds (asserted), exclusive through `&mut self`, and
        // all-zero bytes are a valid value of a Pod type.
        unsafe {
            std::ptr::write_bytes(
                self.data.as_ptr().add(at * self.elem_bytes),
                0,
                self.elem_bytes,
            );
        }
    }
}

impl Drop for Column {
    fn drop(&mut self) {
        // SAFETY: `data` came from `alloc_zeroed(self.layout)` and is freed
        // once, here; Pod elements need no drop.
        unsafe { alloc::dealloc(self.data.as_ptr(), self.layout) }
    }
}
