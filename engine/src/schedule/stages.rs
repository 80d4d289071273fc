//! Grouping systems into stages from their declared access.

use super::system::System;

/// Assigns each system the earliest stage after every earlier system it
/// conflicts with. Systems in one stage never conflict; conflicting systems
/// keep registration order.
pub(crate) fn stage_plan(systems: &[&System]) -> Vec<Vec<usize>> {
    let mut stage_of: Vec<usize> = Vec::with_capacity(systems.len());
    let mut stages: Vec<Vec<usize>> = Vec::new();
    for (i, system) in systems.iter().enumerate() {
        let stage = (0..i)
            .filter(|&j| system.conflicts_with(systems[j]))
            .map(|j| stage_of[j] + 1)
            .max()
            .unwrap_or(0);
        stage_of.push(stage);
        if stages.len() <= stage {
            stages.resize_with(stage + 1, Vec::new);
        }
        stages[stage].push(i);
    }
    stages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::World;

    #[test]
    fn readers_share_a_stage_writers_follow_in_order() {
        let mut world = World::new();
        let t = world.add_table("t", 4).unwrap();
        let a = world.add_column::<u32>(t, "a").unwrap();
        let b = world.add_column::<u32>(t, "b").unwrap();
        let systems = [
            System::new("read_a", |_| Ok(())).reads(a),
            System::new("read_a_too", |_| Ok(())).reads(a),
            System::new("write_a", |_| Ok(())).writes(a),
            System::new("write_b", |_| Ok(())).writes(b),
            System::new("read_a_again", |_| Ok(())).reads(a),
            System::new("empty", |_| Ok(())),
        ];
        let refs: Vec<&System> = systems.iter().collect();
        assert_eq!(stage_plan(&refs), vec![vec![0, 1, 3, 5], vec![2], vec![4]]);
    }
}
