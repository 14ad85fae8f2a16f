//! The fork (H3): each leg's audio, as 16 kHz frames, offered to subscribers (the
//! transcriber) through a bounded queue that drops its oldest frame when full. The bridge
//! never waits on a subscriber; a subscriber that falls behind loses the oldest audio and is
//! told how much.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// A frame of one leg: 16 kHz mono samples and where they start in the leg's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Milliseconds from the start of the leg.
    pub at_ms: u64,
    /// 16 kHz mono PCM.
    pub samples: Vec<i16>,
    /// When it entered the fork (the transcript's lag is measured from here).
    pub entered: std::time::Instant,
}

struct Shared {
    queue: Mutex<Inner>,
    ready: Notify,
}

struct Inner {
    frames: VecDeque<Frame>,
    capacity: usize,
    dropped: u64,
    closed: bool,
}

/// The bridge's end: never blocks.
pub struct ForkSender {
    shared: Arc<Shared>,
}

/// A subscriber's end.
pub struct ForkReceiver {
    shared: Arc<Shared>,
}

/// A fork holding at most `capacity` frames (at least one).
pub fn fork(capacity: usize) -> (ForkSender, ForkReceiver) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Inner {
            frames: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
            closed: false,
        }),
        ready: Notify::new(),
    });
    (
        ForkSender {
            shared: shared.clone(),
        },
        ForkReceiver { shared },
    )
}

fn lock(m: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    // The queue holds plain frames and counters: a poisoned lock still holds a usable queue.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ForkSender {
    /// Offers a frame; when the queue is full the oldest frame is dropped to make room.
    pub fn send(&self, frame: Frame) {
        {
            let mut q = lock(&self.shared.queue);
            if q.frames.len() == q.capacity {
                q.frames.pop_front();
                q.dropped += 1;
            }
            q.frames.push_back(frame);
        }
        self.shared.ready.notify_one();
    }
}

impl Drop for ForkSender {
    fn drop(&mut self) {
        lock(&self.shared.queue).closed = true;
        self.shared.ready.notify_one();
    }
}

impl ForkReceiver {
    /// The next frame, waiting for one; `None` once the leg ended and everything was read.
    pub async fn recv(&self) -> Option<Frame> {
        loop {
            {
                let mut q = lock(&self.shared.queue);
                if let Some(f) = q.frames.pop_front() {
                    return Some(f);
                }
                if q.closed {
                    return None;
                }
            }
            self.shared.ready.notified().await;
        }
    }

    /// Frames dropped so far because this subscriber fell behind.
    pub fn dropped(&self) -> u64 {
        lock(&self.shared.queue).dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(at_ms: u64) -> Frame {
        Frame {
            at_ms,
            samples: vec![0; 320],
            entered: std::time::Instant::now(),
        }
    }

    #[tokio::test]
    async fn a_slow_subscriber_loses_the_oldest_frames_and_the_sender_never_waits() {
        let (tx, rx) = fork(3);
        for i in 0..10 {
            tx.send(frame(i * 20));
        }
        assert_eq!(rx.dropped(), 7);
        let kept: Vec<u64> = [rx.recv().await, rx.recv().await, rx.recv().await]
            .into_iter()
            .map(|f| f.unwrap().at_ms)
            .collect();
        assert_eq!(kept, [140, 160, 180], "the newest audio is kept");
        drop(tx);
        assert_eq!(rx.recv().await, None, "the leg ended");
    }

    #[tokio::test]
    async fn a_waiting_subscriber_wakes_for_the_next_frame() {
        let (tx, rx) = fork(8);
        let waiter = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        tx.send(frame(40));
        assert_eq!(waiter.await.unwrap().map(|f| f.at_ms), Some(40));
    }
}
