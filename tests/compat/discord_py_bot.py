"""discord.py 2.x against the reference server: ready, guild seen, message
with content received, reply, edit, history, delete.

discord.py asks for zstd-stream when it can decompress it (the zstandard
package, which its `speed` extra installs, or Python 3.14's
compression.zstd), and for zlib-stream otherwise. The second argument
names the one to test: for zlib-stream, zstandard is hidden from the
import before discord.py looks for it.

The server's heartbeat interval is short (the test sets it), and the bot
idles for a few heartbeats after READY before the message is posted: with
zlib-stream the server then lets the connection's compressor go, sends
the ACKs as stored blocks and makes a new compressor for the message, all
of which discord.py's zlib must read without reconnecting."""
import asyncio, json, sys, urllib.request

COMPRESSION = sys.argv[2]  # zlib-stream or zstd-stream
if COMPRESSION == "zlib-stream":
    sys.modules["zstandard"] = None
    sys.modules["compression.zstd"] = None
import discord, yarl
from discord.http import Route
from discord.gateway import DiscordWebSocket

BASE = sys.argv[1]  # http://127.0.0.1:PORT
API = BASE + "/api/v10"

def call(method, path, token=None, body=None):
    req = urllib.request.Request(API + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token: req.add_header("Authorization", token)
    with urllib.request.urlopen(req) as r:
        data = r.read()
        return json.loads(data) if data else None

alice = call("POST", "/auth/register", body={"username": "dpy_alice", "password": "correct horse"})["token"]
guild = call("POST", "/guilds", alice, {"name": "dpy guild"})
channels = call("GET", f"/guilds/{guild['id']}/channels", alice)
general = next(c for c in channels if c["type"] == 0)["id"]
app = call("POST", "/applications", alice, {"name": "dpybot"})
token = call("POST", f"/applications/{app['id']}/bot/reset", alice, {})["token"]
call("PUT", f"/guilds/{guild['id']}/members/{app['id']}", alice, {})

Route.BASE = API
DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(call("GET", "/gateway")["url"] + "/")

intents = discord.Intents.default()
intents.message_content = True
intents.members = True
client = discord.Client(intents=intents)
result = {"connects": 0, "resumes": 0,
          "compression": discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE}

@client.event
async def on_connect():
    result["connects"] += 1

@client.event
async def on_resumed():
    result["resumes"] += 1

@client.event
async def on_ready():
    result["ready"] = True
    result["guilds"] = [g.name for g in client.guilds]
    # Heartbeats only for a while (the test's interval is 1 s).
    await asyncio.sleep(3.5)
    result["latency_ms"] = round(client.latency * 1000, 1)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, lambda: call("POST", f"/channels/{general}/messages", alice, {"content": "!ping"}))

@client.event
async def on_message(message):
    if message.author.id == client.user.id:
        return
    result["got"] = message.content
    reply = await message.reply("pong")
    reply = await reply.edit(content="pong (edited)")
    result["edited"] = reply.content
    history = [m.content async for m in message.channel.history(limit=10)]
    result["history"] = history
    await reply.delete()
    members = [m.name async for m in message.guild.fetch_members(limit=10)]
    result["members"] = sorted(members)
    await client.close()

async def main():
    try:
        await asyncio.wait_for(client.start(token), 20)
    except asyncio.TimeoutError:
        result["timeout"] = True
asyncio.run(main())
print(json.dumps(result))
ok = result["compression"] == COMPRESSION and result["connects"] == 1 and result["resumes"] == 0 and result.get("got") == "!ping" and result.get("edited") == "pong (edited)" and result.get("history") == ["pong (edited)", "!ping"]
sys.exit(0 if ok else 1)
