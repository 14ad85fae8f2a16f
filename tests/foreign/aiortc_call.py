"""A foreign WebRTC stack (aiortc) calls a queue from the web with the offer it makes when it
speaks Opus only, and checks that Switchyard answers it, that the connection comes up and
that it hears the queue's hold music. Prints one JSON line; exits 0 only when all held.

    python aiortc_call.py http://127.0.0.1:8080 support
"""

import asyncio
import json
import math
import sys
import urllib.request
from array import array

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack


def post(url, body):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


async def main(base, queue):
    result = {"stack": "aiortc"}
    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver(AudioStreamTrack(), direction="sendrecv")
    opus = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType.lower() == "audio/opus"]
    transceiver.setCodecPreferences(opus)
    tracks = asyncio.get_running_loop().create_future()
    pc.on("track", lambda t: tracks.done() or tracks.set_result(t))

    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    audio = next(l for l in offer.splitlines() if l.startswith("m=audio"))
    result["offer_m_line"] = audio
    result["offer_has_pcmu"] = "PCMU" in offer
    status, body = post(f"{base}/api/v1/web-calls", {"queue": queue, "name": "aiortc", "sdp": {"type": "offer", "sdp": offer}})
    result["status"] = status
    if status != 201:
        result["error"] = body
        print(json.dumps(result))
        return 1
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"]["sdp"], type="answer"))
    answer_m = next(l for l in body["sdp"]["sdp"].splitlines() if l.startswith("m=audio"))
    result["answer_m_line"] = answer_m

    for _ in range(100):
        if pc.connectionState in ("connected", "failed", "closed"):
            break
        await asyncio.sleep(0.1)
    result["connection"] = pc.connectionState

    # What it hears while it waits: the hold music (a tone sequence by default).
    track = await asyncio.wait_for(tracks, 10)
    loud, frames = 0, 0
    deadline = asyncio.get_running_loop().time() + 3
    while asyncio.get_running_loop().time() < deadline:
        frame = await asyncio.wait_for(track.recv(), 5)
        samples = array("h", bytes(frame.planes[0]))
        rms = math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))
        frames += 1
        loud += rms > 300
    result["frames"], result["loud_frames"] = frames, loud
    await pc.close()
    ok = result["connection"] == "connected" and not result["offer_has_pcmu"] and loud >= 25
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "support")))
