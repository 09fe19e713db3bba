//! What turns take, in the window: each finished turn's tokens and cost under its answer, and the
//! conversation's total under the model, priced from the config.

use aetheria_engine::api::Event;
use aetheria_engine::config::{Config, Price};
use aetheria_engine::testkit::{Reply, ScriptedServer};

use super::gui::{pump, shows, type_and_send};

#[tokio::test]
async fn each_turn_shows_its_tokens_and_cost_and_the_conversation_its_total() {
    let server =
        ScriptedServer::start(vec![Reply::text(&["One", " two"]), Reply::text(&["Three"])])
            .await
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.use_provider(super::gui::loopback("loopback", &server));
    config.prices.insert(
        "test-model".into(),
        Price {
            input: 100.0,
            output: 1000.0,
        },
    );
    let (mut app, mut events) = super::gui::window_on(config).await;
    type_and_send(&mut app, "Count");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
    // The loopback server reports 12 prompt tokens and one completion token per piece:
    // 12 × $100 + 2 × $1000 per million = $0.0032.
    assert!(shows(&app, "12 in · 2 out · $0.0032"));
    type_and_send(&mut app, "More");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
    assert!(shows(&app, "12 in · 1 out · $0.0022"));
    // Beside the model: both turns.
    assert!(shows(&app, "24 in · 3 out · $0.0054"));
}
