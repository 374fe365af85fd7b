// discord.js v14 against the reference server: ready, guild seen, message
// content received, reply, edit, history, delete. Usage: node bot.js BASE
const { Client, GatewayIntentBits, Events } = require('discord.js');
const BASE = process.argv[2];
const API = `${BASE}/api/v10`;

async function call(method, path, token, body) {
  const res = await fetch(API + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

(async () => {
  const alice = (await call('POST', '/auth/register', null, { username: 'djs_alice', password: 'correct horse' })).token;
  const guild = await call('POST', '/guilds', alice, { name: 'djs guild' });
  const channels = await call('GET', `/guilds/${guild.id}/channels`, alice);
  const general = channels.find((c) => c.type === 0).id;
  const app = await call('POST', '/applications', alice, { name: 'djsbot' });
  const token = (await call('POST', `/applications/${app.id}/bot/reset`, alice, {})).token;
  await call('PUT', `/guilds/${guild.id}/members/${app.id}`, alice, {});

  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent, GatewayIntentBits.GuildMembers],
    rest: { api: `${BASE}/api` },
  });
  const result = {};
  const timer = setTimeout(() => { result.timeout = true; finish(); }, 20000);
  function finish() {
    clearTimeout(timer);
    console.log(JSON.stringify(result));
    client.destroy().finally(() => {
      const ok = result.got === '!ping' && result.edited === 'pong (edited)'
        && JSON.stringify(result.history) === JSON.stringify(['pong (edited)', '!ping']);
      process.exit(ok ? 0 : 1);
    });
  }
  client.once(Events.ClientReady, async (c) => {
    result.ready = true;
    result.guilds = c.guilds.cache.map((g) => g.name);
    await call('POST', `/channels/${general}/messages`, alice, { content: '!ping' });
  });
  client.on(Events.MessageCreate, async (message) => {
    if (message.author.id === client.user.id) return;
    try {
      result.got = message.content;
      let reply = await message.reply('pong');
      reply = await reply.edit('pong (edited)');
      result.edited = reply.content;
      const history = await message.channel.messages.fetch({ limit: 10 });
      result.history = [...history.values()].map((m) => m.content);
      await reply.delete();
      const members = await message.guild.members.fetch();
      result.members = [...members.values()].map((m) => m.user.username).sort();
    } catch (e) {
      result.error = String(e && e.stack || e);
    }
    finish();
  });
  client.login(token).catch((e) => { result.error = String(e); finish(); });
})().catch((e) => { console.error(e); process.exit(2); });
