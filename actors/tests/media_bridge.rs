//! The bridge with real WebRTC peers on loopback: a customer peer and an agent peer connect
//! to the server's two legs, each sends its own tone, and each hears the other's; on hold the
//! customer hears hold music and the agent nothing; the fork carries the customer's tone at
//! 16 kHz.

use actors::media::bridge::{self, BridgeState, Side};
use actors::media::fork::fork;
use actors::media::leg::{Leg, FRAME_SAMPLES};
use actors::media::tone::{goertzel, Sine};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// A client peer (offerer) connected to a server leg (answerer).
async fn pair() -> (
    Arc<Leg>,
    mpsc::Receiver<Vec<i16>>,
    Arc<Leg>,
    mpsc::Receiver<Vec<i16>>,
) {
    let (client, client_rx) = Leg::new().await.unwrap();
    let (server, server_rx) = Leg::new().await.unwrap();
    let offer = client.offer().await.unwrap();
    let answer = server.answer(offer).await.unwrap();
    client.accept(answer).await.unwrap();
    client.connected(Duration::from_secs(10)).await.unwrap();
    server.connected(Duration::from_secs(10)).await.unwrap();
    (Arc::new(client), client_rx, Arc::new(server), server_rx)
}

/// Sends `secs` of a tone from each client, collecting what each receives meanwhile.
async fn talk(
    customer: &Arc<Leg>,
    customer_rx: &mut mpsc::Receiver<Vec<i16>>,
    agent: &Arc<Leg>,
    agent_rx: &mut mpsc::Receiver<Vec<i16>>,
    secs: u64,
) -> (Vec<i16>, Vec<i16>) {
    let (mut c_tone, mut a_tone) = (
        Sine::new(440.0, 8_000, 10_000),
        Sine::new(880.0, 8_000, 10_000),
    );
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut heard_by_customer, mut heard_by_agent) = (Vec::new(), Vec::new());
    for _ in 0..secs * 50 {
        tick.tick().await;
        customer.send(&c_tone.take(FRAME_SAMPLES)).await.unwrap();
        agent.send(&a_tone.take(FRAME_SAMPLES)).await.unwrap();
        while let Ok(f) = customer_rx.try_recv() {
            heard_by_customer.extend(f);
        }
        while let Ok(f) = agent_rx.try_recv() {
            heard_by_agent.extend(f);
        }
    }
    (heard_by_customer, heard_by_agent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_side_hears_the_other_hold_plays_music_to_the_customer_and_mute_silences_the_agent() {
    let (customer, mut customer_rx, customer_leg, customer_in) = pair().await;
    let (agent, mut agent_rx, agent_leg, agent_in) = pair().await;
    let (customer_fork, customer_16k) = fork(500);
    let (agent_fork, _agent_16k) = fork(500);
    let (state_tx, state) = watch::channel(BridgeState::default());
    let _bridge = bridge::spawn(
        Side {
            leg: customer_leg,
            incoming: customer_in,
            fork: customer_fork,
        },
        Side {
            leg: agent_leg,
            incoming: agent_in,
            fork: agent_fork,
        },
        state,
        None,
    );

    let (to_customer, to_agent) = talk(&customer, &mut customer_rx, &agent, &mut agent_rx, 2).await;
    assert!(
        to_agent.len() > 8_000,
        "the agent received {} samples",
        to_agent.len()
    );
    assert!(
        goertzel(&to_agent, 440.0, 8_000) > 0.01,
        "the agent hears the customer's tone"
    );
    assert!(goertzel(&to_agent, 880.0, 8_000) < 0.001, "and not its own");
    assert!(
        goertzel(&to_customer, 880.0, 8_000) > 0.01,
        "the customer hears the agent's tone"
    );

    state_tx
        .send(BridgeState {
            held: true,
            ..BridgeState::default()
        })
        .unwrap();
    // Let frames already under way arrive, then listen to the held call for two seconds.
    let _ = talk(&customer, &mut customer_rx, &agent, &mut agent_rx, 1).await;
    let (to_customer, to_agent) = talk(&customer, &mut customer_rx, &agent, &mut agent_rx, 2).await;
    assert!(
        to_agent.is_empty(),
        "on hold the agent hears nothing ({} samples)",
        to_agent.len()
    );
    assert!(
        goertzel(&to_customer, 880.0, 8_000) < 0.001,
        "the customer no longer hears the agent"
    );
    let notes = [261.63, 329.63, 392.00, 523.25]
        .iter()
        .map(|&f| goertzel(&to_customer, f, 8_000))
        .sum::<f64>();
    assert!(notes > 0.001, "the customer hears hold music ({notes})");

    // Resumed but muted: the customer is heard again, the agent's audio does not reach it.
    state_tx
        .send(BridgeState {
            muted: true,
            ..BridgeState::default()
        })
        .unwrap();
    let _ = talk(&customer, &mut customer_rx, &agent, &mut agent_rx, 1).await;
    let (to_customer, to_agent) = talk(&customer, &mut customer_rx, &agent, &mut agent_rx, 1).await;
    assert!(
        goertzel(&to_agent, 440.0, 8_000) > 0.01,
        "the agent hears the customer again"
    );
    assert!(
        goertzel(&to_customer, 880.0, 8_000) < 0.001,
        "muted: the customer does not hear the agent"
    );

    // The fork carried the customer's tone, resampled to 16 kHz.
    let mut forked = Vec::new();
    while forked.len() < 16_000 {
        let frame = tokio::time::timeout(Duration::from_secs(5), customer_16k.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(frame.samples.len(), 320, "20 ms at 16 kHz");
        forked.extend(frame.samples);
    }
    assert!(goertzel(&forked[3_200..], 440.0, 16_000) > 0.01);
    for leg in [&customer, &agent] {
        leg.close().await;
    }
}
