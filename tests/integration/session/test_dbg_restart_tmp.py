import asyncio, os, uuid
from datetime import UTC, datetime
import aio_pika, pytest
from shared.messaging.messages import RunFinishedV1
from shared.messaging.topology import RUN_FINISHED_KEY, Topology
from tests.integration.session.conftest import new_session
from tests.integration.session.support import RabbitProcess, app_with_env
from tests.support.auth import headers_for

async def _state(url):
    try:
        conn = await aio_pika.connect(url, timeout=3)
        async with conn:
            ch = await conn.channel()
            q = await ch.declare_queue(Topology(os.environ["ECHO_BROKER_NAMESPACE"]).session_run_finished.name, passive=True)
            return q.declaration_result.consumer_count, q.declaration_result.message_count
    except Exception as e:
        return repr(e)[:80]

async def _publish(url, o):
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel(publisher_confirms=True)
        ex = await ch.get_exchange(Topology(os.environ["ECHO_BROKER_NAMESPACE"]).runs_exchange)
        await ex.publish(aio_pika.Message(o.to_bytes(), delivery_mode=2), RUN_FINISHED_KEY)

async def test_dbg(database_url, tmp_path):
    node = RabbitProcess(str(tmp_path / "r")); node.start()
    user = uuid.uuid4(); h = headers_for(user)
    try:
        async with app_with_env(ECHO_AMQP_URL=node.url, ECHO_LOG_LEVEL="CRITICAL") as client:
            sid = (await new_session(client, h))["session_id"]
            mk = lambda out: RunFinishedV1(run_id=uuid.uuid4(), workflow_id=uuid.uuid4(), user_id=user, session_id=uuid.UUID(sid), status="completed", output=out, finished_at=datetime.now(UTC))
            await _publish(node.url, mk("before"))
            await asyncio.sleep(1)
            print("before restart", await _state(node.url))
            node.stop(); node.start()
            for i in range(40):
                st = await _state(node.url)
                n = (await client.get(f"/sessions/{sid}", headers=h)).json()["message_count"]
                print(i, "connected", client.app.state.broker.connected, "queue", st, "msgs", n, flush=True)
                if i == 2:
                    try:
                        await _publish(node.url, mk("after")); print("published after")
                    except Exception as e:
                        print("publish failed", e)
                await asyncio.sleep(2)
    finally:
        node.stop()
    assert 0
