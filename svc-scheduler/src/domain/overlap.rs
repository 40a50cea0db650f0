//! Whether a due occurrence fires, given the schedule's previous run and its overlap policy.

use super::options::Overlap;

/// The previous run of the schedule, from its task's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviousRun {
    /// The schedule has not fired before.
    None,
    /// Its task is pending, running or retrying.
    Active,
    /// Its task reached a terminal status.
    Ended,
}

/// What to do with a due occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Fire now.
    Fire,
    /// Record it as skipped, reason overlap.
    Skip,
    /// Keep it waiting; fire when the previous run ends.
    Buffer,
    /// Request cancellation of the active run, then fire.
    CancelPreviousThenFire,
}

/// Decides for one due occurrence. `buffered`: occurrences already waiting behind the active
/// run. With no active run every policy fires; occurrences waiting behind a run that has ended
/// are the caller's to fire first, in order.
pub fn decide(policy: Overlap, previous: PreviousRun, buffered: usize) -> Decision {
    if previous != PreviousRun::Active {
        return Decision::Fire;
    }
    match policy {
        Overlap::Skip => Decision::Skip,
        Overlap::BufferOne if buffered == 0 => Decision::Buffer,
        Overlap::BufferOne => Decision::Skip,
        Overlap::BufferAll => Decision::Buffer,
        Overlap::CancelOther => Decision::CancelPreviousThenFire,
        Overlap::AllowAll => Decision::Fire,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Overlap; 5] = [
        Overlap::Skip,
        Overlap::BufferOne,
        Overlap::BufferAll,
        Overlap::CancelOther,
        Overlap::AllowAll,
    ];

    #[test]
    fn without_an_active_run_every_policy_fires() {
        for policy in ALL {
            for previous in [PreviousRun::None, PreviousRun::Ended] {
                assert_eq!(decide(policy, previous, 0), Decision::Fire, "{policy:?}");
                assert_eq!(decide(policy, previous, 3), Decision::Fire, "{policy:?}");
            }
        }
    }

    #[test]
    fn skip_skips_while_active() {
        assert_eq!(
            decide(Overlap::Skip, PreviousRun::Active, 0),
            Decision::Skip
        );
    }

    #[test]
    fn buffer_one_keeps_one_then_skips() {
        assert_eq!(
            decide(Overlap::BufferOne, PreviousRun::Active, 0),
            Decision::Buffer
        );
        assert_eq!(
            decide(Overlap::BufferOne, PreviousRun::Active, 1),
            Decision::Skip
        );
    }

    #[test]
    fn buffer_all_keeps_every_one() {
        for buffered in [0, 1, 50] {
            assert_eq!(
                decide(Overlap::BufferAll, PreviousRun::Active, buffered),
                Decision::Buffer
            );
        }
    }

    #[test]
    fn cancel_other_cancels_then_fires() {
        assert_eq!(
            decide(Overlap::CancelOther, PreviousRun::Active, 0),
            Decision::CancelPreviousThenFire
        );
    }

    #[test]
    fn allow_all_fires_alongside() {
        assert_eq!(
            decide(Overlap::AllowAll, PreviousRun::Active, 2),
            Decision::Fire
        );
    }

    #[test]
    fn policies_are_spelled_in_snake_case_and_skip_is_the_default() {
        assert_eq!(Overlap::default(), Overlap::Skip);
        for policy in ALL {
            let json = serde_json::to_string(&policy).expect("serializes");
            assert_eq!(json, format!("\"{}\"", policy.as_str()));
            assert_eq!(
                serde_json::from_str::<Overlap>(&json).expect("parses"),
                policy
            );
        }
        assert!(serde_json::from_str::<Overlap>("\"buffer\"").is_err());
    }
}
