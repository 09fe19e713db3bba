//! The Jobs tab: a prompt scheduled from the window in this machine's time zone, its next runs
//! shown while the expression is typed, a bad expression refused, and Remove; the composer's
//! message sent to the background as a prompt or research job.

use aetheria_app::app::schedules::{CRON, PROMPT};
use aetheria_app::app::{App, Message};
use aetheria_app::engine_bridge::BridgeEvent;
use aetheria_engine::api::Event;
use aetheria_engine::config::Config;

use super::gui::{click, pump, retype, shows};

#[tokio::test]
async fn a_prompt_is_scheduled_from_the_window_in_this_machine_s_zone() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new(dir.path().join("config"), dir.path().join("data"));
    let (mut app, mut events) = super::gui::window_on(config).await;
    click(&mut app, "JOBS");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::Schedules { .. })
    })
    .await;
    let zone = aetheria_engine::jobs::schedule::local_zone();
    let zone_name = zone.clone().unwrap_or_else(|| "UTC".into());
    assert!(shows(
        &app,
        &format!("SCHEDULES — PROMPTS THAT RUN ON THEIR OWN ({zone_name})")
    ));
    assert!(shows(&app, "None yet."));

    retype(&mut app, CRON, 0, "61 * * * *");
    let refused = "\"61 * * * *\" is not a cron expression";
    assert!(
        simulator_text_starts(&app, refused),
        "a bad expression is said as it is typed"
    );
    // Nine in the morning on New Year's Day, in this zone: 2027 is a Friday, 2028 a Saturday,
    // 2029 a Monday (shown in this machine's time, which is the schedule's).
    retype(&mut app, CRON, "61 * * * *".len(), "0 9 1 1 *");
    assert!(shows(
        &app,
        "Runs Fri 1 Jan 09:00, Sat 1 Jan 09:00, Mon 1 Jan 09:00"
    ));
    retype(&mut app, PROMPT, 0, "Plan the year");
    click(&mut app, "Schedule it");
    let mut added = None;
    while added.is_none() {
        let envelope = events.recv().await.unwrap();
        if let Event::ScheduleAdded { schedule } = &envelope.event {
            added = Some(schedule.clone());
        }
        let _ = app.update(Message::Bridge(BridgeEvent::Events(vec![envelope])));
    }
    let added = added.unwrap();
    assert_eq!(added.timezone, zone, "stored with its zone");
    assert_eq!(added.text, "Plan the year");
    assert!(shows(&app, &format!("0 9 1 1 * · {zone_name}")));
    assert!(shows(
        &app,
        "next Fri 1 Jan 09:00, Sat 1 Jan 09:00, Mon 1 Jan 09:00"
    ));
    assert!(
        !shows(
            &app,
            "Runs Fri 1 Jan 09:00, Sat 1 Jan 09:00, Mon 1 Jan 09:00"
        ),
        "the form is cleared"
    );

    // Paused, it says so instead of its next runs; resumed, they are back.
    click(&mut app, "Pause");
    pump(
        &mut app,
        &mut events,
        |e| matches!(e, Event::ScheduleChanged { schedule } if schedule.paused),
    )
    .await;
    assert!(shows(&app, "PAUSED"));
    assert!(shows(&app, "paused: it does not run until resumed"));
    click(&mut app, "Resume");
    pump(
        &mut app,
        &mut events,
        |e| matches!(e, Event::ScheduleChanged { schedule } if !schedule.paused),
    )
    .await;
    assert!(!shows(&app, "PAUSED"));
    assert!(shows(
        &app,
        "next Fri 1 Jan 09:00, Sat 1 Jan 09:00, Mon 1 Jan 09:00"
    ));

    click(&mut app, "Remove");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::ScheduleRemoved { .. })
    })
    .await;
    assert!(shows(&app, "None yet."));
}

/// A schedule's runs are listed under it, each opening the conversation it ran in.
#[tokio::test]
async fn a_schedule_s_runs_open_their_conversations() {
    use aetheria_app::app::schedules::ScheduleMsg;
    use aetheria_engine::jobs::JobState;
    use aetheria_engine::testkit::{Reply, ScriptedServer};

    let replies = (0..30)
        .map(|i| Reply::text(&[&format!("Briefing number {i}.")]))
        .collect();
    let server = ScriptedServer::start(replies).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.use_provider(super::gui::loopback("loopback", &server));
    let (mut app, mut events) = super::gui::window_on(config).await;
    click(&mut app, "JOBS");
    // The tab's list first: an answer listed before the schedule is added must not arrive after it.
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::Schedules { .. })
    })
    .await;
    retype(&mut app, CRON, 0, "* * * * * *");
    retype(&mut app, PROMPT, 0, "Brief me");
    click(&mut app, "Schedule it");
    let run = super::gui::pump_for(&mut app, &mut events, |e| match e {
        Event::JobUpdated { job } if job.state == JobState::Done => Some(job.clone()),
        _ => None,
    })
    .await;
    // Paused before looking: a run a second would keep changing the list. (A run's job id is
    // its schedule's id and the second it stands for.)
    let id = run.spec.id.as_str().rsplit_once('-').unwrap().0.to_owned();
    let _ = app.update(Message::Panel(aetheria_app::app::panel::Msg::Schedule(
        ScheduleMsg::Pause(id, true),
    )));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::ScheduleChanged { .. })
    })
    .await;
    assert!(simulator_text_starts(&app, "ran "), "its runs are listed");
    assert!(!shows(&app, "YOU"), "no conversation is open yet");
    let session = run.session().unwrap();
    let _ = app.update(Message::Panel(aetheria_app::app::panel::Msg::Schedule(
        ScheduleMsg::Open(session.clone()),
    )));
    pump(
        &mut app,
        &mut events,
        |e| matches!(e, Event::SessionLoaded { session: s, .. } if s.id == session),
    )
    .await;
    // The conversation it ran in: the prompt as the person's message, the answer as Aetheria's.
    assert!(shows(&app, "YOU") && shows(&app, "AETHERIA"));
    assert!(shows(&app, &run.result));
}

/// Whether the window shows a text that starts with `start` (a cron error goes on to croner's
/// own words).
fn simulator_text_starts(app: &App, start: &str) -> bool {
    use iced_test::selector::Candidate;
    let mut ui = iced_test::simulator(app.view());
    ui.find(|candidate: Candidate<'_>| match candidate {
        Candidate::Text { content, .. } if content.starts_with(start) => Some(()),
        _ => None,
    })
    .is_ok()
}

/// The composer's Background: the message becomes a prompt job with the machine's job allow
/// list, the composer empties and the Jobs tab shows it; from the palette, a research job.
#[tokio::test]
async fn the_composer_sends_a_message_to_the_background_as_a_job() {
    use aetheria_app::app::jobs::Background;
    use aetheria_engine::jobs::JobKind;

    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.jobs.allow = vec!["fs_read".into()];
    let (mut app, mut events) = super::gui::window_on(config).await;
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::Settings { .. })
    })
    .await;
    assert!(shows(&app, "Background"));

    let typed = |app: &mut App, text: &str| {
        let mut ui = iced_test::simulator(app.view());
        ui.click(iced::widget::Id::new(aetheria_app::app::COMPOSER))
            .expect("composer");
        let _ = ui.typewrite(text);
        for message in ui.into_messages() {
            let _ = app.update(message);
        }
    };
    typed(&mut app, "Summarise the notes folder");
    click(&mut app, "Background");
    assert_eq!(app.composer_text().trim(), "", "the composer is emptied");
    let submitted = super::gui::pump_for(&mut app, &mut events, |e| match e {
        Event::JobUpdated { job } => Some(job.spec.kind.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        submitted,
        JobKind::Prompt {
            text: "Summarise the notes folder".into(),
            allow: vec!["fs_read".into()],
        }
    );
    assert!(shows(
        &app,
        "Jobs here may use only: fs_read (jobs.allow in config.toml)."
    ));

    typed(&mut app, "How do solar panels age?");
    let _ = app.update(Message::Composer(
        aetheria_app::app::composer::Msg::Background(Background::Research),
    ));
    let submitted = super::gui::pump_for(&mut app, &mut events, |e| match e {
        Event::JobUpdated { job } if matches!(job.spec.kind, JobKind::Research { .. }) => {
            Some(job.spec.kind.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(
        submitted,
        JobKind::Research {
            question: "How do solar panels age?".into()
        }
    );
}
