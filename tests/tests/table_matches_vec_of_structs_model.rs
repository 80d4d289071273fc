//! The columnar table behaves like a `Vec` of structs under any sequence of
//! inserts, removes and writes, and refuses stale ids.

use keel_engine::{RowId, Table, TableError, TableId};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(u32, u64),
    Remove(usize),
    Set(usize, u32),
    UseStale(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u32>(), any::<u64>()).prop_map(|(a, b)| Op::Insert(a, b)),
        3 => any::<usize>().prop_map(Op::Remove),
        2 => (any::<usize>(), any::<u32>()).prop_map(|(i, a)| Op::Set(i, a)),
        1 => any::<usize>().prop_map(Op::UseStale),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Row {
    id: RowId,
    a: u32,
    b: u64,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn table_matches_model(ops in proptest::collection::vec(op(), 1..200)) {
        const CAP: usize = 16;
        let mut table = Table::new(TableId::default(), "model", CAP).unwrap();
        let a = table.add_column::<u32>("a").unwrap();
        let b = table.add_column::<u64>("b").unwrap();
        let mut model: Vec<Row> = Vec::new();
        let mut removed: Vec<RowId> = Vec::new();
        for op in ops {
            match op {
                Op::Insert(va, vb) => match table.insert() {
                    Ok(id) => {
                        prop_assert!(model.len() < CAP);
                        prop_assert!(!model.iter().any(|r| r.id == id), "id reused while live");
                        prop_assert!(!removed.contains(&id), "stale id aliased");
                        prop_assert_eq!(table.get(id, a).unwrap(), 0, "new rows start zeroed");
                        table.set(id, a, va).unwrap();
                        table.set(id, b, vb).unwrap();
                        model.push(Row { id, a: va, b: vb });
                    }
                    Err(TableError::Full { .. }) => prop_assert_eq!(model.len(), CAP),
                    Err(e) => prop_assert!(false, "unexpected {e}"),
                },
                Op::Remove(i) if !model.is_empty() => {
                    let row = model.remove(i % model.len());
                    table.remove(row.id).unwrap();
                    removed.push(row.id);
                }
                Op::Set(i, va) if !model.is_empty() => {
                    let k = i % model.len();
                    table.set(model[k].id, a, va).unwrap();
                    model[k].a = va;
                }
                Op::UseStale(i) if !removed.is_empty() => {
                    let id = removed[i % removed.len()];
                    let stale = matches!(table.get(id, a), Err(TableError::StaleId { .. }));
                    prop_assert!(stale);
                    let stale = matches!(table.remove(id), Err(TableError::StaleId { .. }));
                    prop_assert!(stale);
                    let stale = matches!(table.set(id, b, 1), Err(TableError::StaleId { .. }));
                    prop_assert!(stale);
                }
                _ => {}
            }
            // Every live row reads back through its id, and the dense
            // columns hold exactly the live rows, aligned with `ids()`.
            prop_assert_eq!(table.len(), model.len());
            for row in &model {
                prop_assert_eq!(table.get(row.id, a).unwrap(), row.a);
                prop_assert_eq!(table.get(row.id, b).unwrap(), row.b);
            }
            let (ca, cb) = (table.column(a).unwrap(), table.column(b).unwrap());
            for (p, id) in table.ids().iter().enumerate() {
                let row = model.iter().find(|r| r.id == *id).unwrap();
                prop_assert_eq!((ca[p], cb[p]), (row.a, row.b));
                prop_assert_eq!(table.position(*id).unwrap(), p);
            }
        }
    }
}

#[test]
fn stale_id_is_refused_after_its_index_is_reused() {
    let mut table = Table::new(TableId::default(), "t", 1).unwrap();
    let col = table.add_column::<u32>("v").unwrap();
    let first = table.insert().unwrap();
    table.remove(first).unwrap();
    let second = table.insert().unwrap();
    assert_eq!(first.index(), second.index());
    assert_ne!(first, second);
    table.set(second, col, 9).unwrap();
    assert!(matches!(
        table.get(first, col),
        Err(TableError::StaleId { .. })
    ));
    assert!(matches!(
        table.set(first, col, 1),
        Err(TableError::StaleId { .. })
    ));
    assert_eq!(table.get(second, col).unwrap(), 9);
}

#[test]
fn wrong_type_foreign_column_and_zero_capacity_are_refused() {
    let mut t = Table::new(TableId::default(), "t", 4).unwrap();
    let col = t.add_column::<u32>("v").unwrap();
    let mut other = Table::new(TableId::default(), "o", 4).unwrap();
    let wrong = other.add_column::<u64>("w").unwrap();
    assert!(matches!(
        t.column(wrong),
        Err(TableError::ForeignColumn { .. } | TableError::TypeMismatch { .. })
    ));
    assert!(matches!(
        t.add_column::<u32>("v"),
        Err(TableError::DuplicateColumn { .. })
    ));
    assert!(matches!(
        t.add_column::<()>("unit"),
        Err(TableError::ZeroSizedColumn { .. })
    ));
    assert!(matches!(
        Table::new(TableId::default(), "z", 0),
        Err(TableError::CapacityTooLarge { .. })
    ));
    assert_eq!(t.column(col).unwrap().len(), 0);
}
