//! Jobs through the engine API: the embedded queue (run by the engine itself) retries with
//! backoff, dead-letters after `max_attempts`, and cancels a running job; with `redis_url` set the
//! same commands go to Redis, where a worker runs them.

use std::sync::Arc;
use std::time::Duration;

use aetheria_engine::api::{Command, Event, JobId};
use aetheria_engine::jobs::{JobKind, JobRecord, JobSpec, JobState, Queue, RedisQueue, Worker};

use super::common::Harness;

async fn job(h: &mut Harness, id: &JobId) -> JobRecord {
    h.handle.submit(Command::GetJob { id: id.clone() }).unwrap();
    let events = h
        .until(|e| matches!(e, Event::JobUpdated { job } if &job.spec.id == id))
        .await;
    let Some(Event::JobUpdated { job }) = events.last() else {
        unreachable!()
    };
    job.clone()
}

async fn until_state(h: &mut Harness, id: &JobId, state: JobState) -> JobRecord {
    for _ in 0..200 {
        let record = job(h, id).await;
        if record.state == state {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} never became {state:?}: {:?}", job(h, id).await);
}

#[tokio::test]
async fn the_embedded_queue_retries_dead_letters_and_cancels() {
    let mut h = Harness::start(vec![]).await;
    let flaky = JobSpec::new(JobKind::Wait {
        millis: 50,
        fail_first: 1,
    });
    let hopeless = JobSpec {
        max_attempts: 2,
        ..JobSpec::new(JobKind::Wait {
            millis: 10,
            fail_first: 9,
        })
    };
    let long = JobSpec::new(JobKind::Wait {
        millis: 60_000,
        fail_first: 0,
    });
    for spec in [&flaky, &hopeless, &long] {
        h.handle
            .submit(Command::SubmitJob { job: spec.clone() })
            .unwrap();
        let events = h.until(|e| matches!(e, Event::JobUpdated { .. })).await;
        assert!(
            matches!(events.last(), Some(Event::JobUpdated { job }) if job.state == JobState::Queued || job.state == JobState::Running)
        );
    }
    let done = until_state(&mut h, &flaky.id, JobState::Done).await;
    assert_eq!((done.attempts, done.result.as_str()), (2, "waited 50 ms"));
    assert!(
        done.error.contains("attempt 1 fails on purpose"),
        "{done:?}"
    );
    let dead = until_state(&mut h, &hopeless.id, JobState::Dead).await;
    assert_eq!(dead.attempts, 2);

    until_state(&mut h, &long.id, JobState::Running).await;
    h.handle
        .submit(Command::CancelJob {
            id: long.id.clone(),
        })
        .unwrap();
    let events = h.until(|e| matches!(e, Event::JobUpdated { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::JobUpdated { job }) if job.state == JobState::Cancelled)
    );
    h.handle
        .submit(Command::CancelJob {
            id: long.id.clone(),
        })
        .unwrap();
    let events = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(format!("{:?}", events.last()).contains("already finished"));
    h.handle.submit(Command::ListJobs { limit: None }).unwrap();
    let events = h.until(|e| matches!(e, Event::JobList { .. })).await;
    let Some(Event::JobList { jobs }) = events.last() else {
        unreachable!()
    };
    assert_eq!(jobs.len(), 3);
    assert_eq!(jobs[0].spec.id, long.id, "newest first");
}

#[tokio::test]
async fn with_redis_the_commands_reach_the_shared_queue() {
    let Ok(url) = std::env::var("AETHERIA_TEST_REDIS_URL") else {
        assert!(
            super::common::skip("redis"),
            "AETHERIA_TEST_REDIS_URL is not set: run installer/dev.sh test (AETHERIA_SKIP=redis to skip)"
        );
        return;
    };
    let u = url.clone();
    let mut h = Harness::start_with(vec![], move |c| c.redis_url = Some(u)).await;
    let spec = JobSpec::new(JobKind::Wait {
        millis: 20,
        fail_first: 0,
    });
    h.handle
        .submit(Command::SubmitJob { job: spec.clone() })
        .unwrap();
    let events = h.until(|e| matches!(e, Event::JobUpdated { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::JobUpdated { job }) if job.state == JobState::Queued)
    );
    // The engine runs no Redis jobs itself: a worker does.
    let queue: Arc<dyn Queue> = Arc::new(
        RedisQueue::connect(&url, Duration::from_secs(5))
            .await
            .unwrap(),
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(
        Worker {
            queues: vec![queue],
            name: format!("test-{}", std::process::id()),
        }
        .run(stop.clone()),
    );
    let done = until_state(&mut h, &spec.id, JobState::Done).await;
    assert_eq!(done.result, "waited 20 ms");
    stop.cancel();
    worker.await.unwrap();
}
