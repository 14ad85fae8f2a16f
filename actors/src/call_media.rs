//! A call's media: its parties' legs go to the call's media actor, started at the first one
//! (a WebRTC offer from a panel or a web caller, or a trunk caller's plain RTP).

use crate::call_actor::{CallActor, CallActorState, CallMsg};
use crate::error::ActorError;
use crate::media::actor::{MediaActor, MediaArgs, MediaMsg};
use ractor::{Actor, ActorRef, RpcReplyPort};

impl CallActor {
    /// Tells the media actor the call's audio plan after a step, with any DTMF digits the
    /// step sent.
    pub(crate) fn tell_media(&self, st: &CallActorState) {
        let Some(media) = &st.media else { return };
        let dtmf: String = st.call.journey()[st.published.min(st.call.journey().len())..]
            .iter()
            .filter_map(|e| match &e.event {
                engine::call::JourneyEvent::Dtmf { digits } => Some(digits.as_str()),
                _ => None,
            })
            .collect();
        let _ = media.cast(MediaMsg::Follow {
            plan: st.call.audio_plan(),
            queue: st.call.queue().clone(),
            dtmf: (!dtmf.is_empty()).then_some(dtmf),
        });
    }

    pub(crate) async fn media(
        &self,
        myself: &ActorRef<CallMsg>,
        st: &mut CallActorState,
        who: engine::call::Participant,
        offer: Box<webrtc::peer_connection::RTCSessionDescription>,
        reply: RpcReplyPort<Result<webrtc::peer_connection::RTCSessionDescription, ActorError>>,
    ) {
        if let Err(e) = self.media_ready(myself, st, &who).await {
            let _ = reply.send(Err(e));
            return;
        }
        if let Some(m) = &st.media {
            // The media actor answers; this actor does not wait for ICE.
            if let Err(e) = m.cast(MediaMsg::Answer { who, offer, reply }) {
                tracing::error!(call = %st.call.id(), error = %e, "media actor gone");
                st.media = None;
            }
        }
    }

    /// A trunk party's plain RTP leg (see [`CallMsg::PlainMedia`]).
    pub(crate) async fn plain_media(
        &self,
        myself: &ActorRef<CallMsg>,
        st: &mut CallActorState,
        who: engine::call::Participant,
        sdp: Option<String>,
        bind: crate::media::leg::RtpBind,
        reply: RpcReplyPort<Result<std::net::SocketAddr, ActorError>>,
    ) {
        if let Err(e) = self.media_ready(myself, st, &who).await {
            let _ = reply.send(Err(e));
            return;
        }
        if let Some(m) = &st.media {
            let msg = MediaMsg::Plain {
                who,
                sdp,
                bind,
                reply,
            };
            if let Err(e) = m.cast(msg) {
                tracing::error!(call = %st.call.id(), error = %e, "media actor gone");
                st.media = None;
            }
        }
    }

    /// Before a party's leg: the call is live, its media actor runs, and a customer's leg is
    /// noted (from now on losing it is the customer leaving: saved, for a restart too).
    async fn media_ready(
        &self,
        myself: &ActorRef<CallMsg>,
        st: &mut CallActorState,
        who: &engine::call::Participant,
    ) -> Result<(), ActorError> {
        if st.call.state().is_final() {
            return Err(ActorError::CallOver(st.call.id().to_string()));
        }
        if st.media.is_none() {
            let actor = MediaActor {
                registry: self.ctx.media.clone(),
            };
            let args = MediaArgs {
                call: st.call.id().clone(),
                queue: st.call.queue().clone(),
                plan: st.call.audio_plan(),
                owner: myself.clone(),
            };
            match Actor::spawn_linked(None, actor, args, myself.get_cell()).await {
                Ok((m, _)) => st.media = Some(m),
                Err(e) => {
                    return Err(ActorError::Media(format!(
                        "the media actor did not start: {e}"
                    )))
                }
            }
        }
        if *who == engine::call::Participant::Customer && st.call.customer_media_attached() {
            self.commit(myself, st).await?;
        }
        Ok(())
    }
}
