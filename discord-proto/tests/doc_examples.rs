//! Example payloads in the shapes Discord's documentation shows (our own
//! values), decoded into typed values and encoded again with the same
//! meaning: every field of the example comes back with its value, and
//! anything added is an empty default (`null`, `false`, `0`, `[]`).

use discord_proto::gateway::{ClientCommand, DispatchEvent, GuildCreate, ServerMessage};
use serde_json::Value;

/// Whether `v` is a default an encoder may add without changing meaning.
fn is_empty_default(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::Number(n) => n.as_u64() == Some(0),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(_) | Value::Bool(true) => false,
    }
}

/// Asserts that `out` means what `example` means.
fn assert_same_meaning(example: &Value, out: &Value, path: &str) {
    match (example, out) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let p = format!("{path}.{k}");
                match b.get(k) {
                    Some(vb) => assert_same_meaning(va, vb, &p),
                    None => assert!(va.is_null(), "{p} was dropped (was {va})"),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    assert!(is_empty_default(vb), "{path}.{k} was added as {vb}");
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: array length");
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                assert_same_meaning(va, vb, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(example, out, "{path}"),
    }
}

fn client_round_trip(example: &str) -> ClientCommand {
    let cmd = ClientCommand::decode(example.as_bytes())
        .unwrap_or_else(|e| panic!("decode failed: {e}\n{example}"));
    let out: Value = serde_json::from_str(&cmd.encode()).unwrap();
    let example: Value = serde_json::from_str(example).unwrap();
    assert_same_meaning(&example, &out, "$");
    // And the encoding decodes to the same command.
    assert_eq!(ClientCommand::decode(cmd.encode().as_bytes()).unwrap(), cmd);
    cmd
}

fn server_round_trip(example: &str) -> ServerMessage {
    let msg = ServerMessage::decode(example.as_bytes())
        .unwrap_or_else(|e| panic!("decode failed: {e}\n{example}"));
    let out: Value = serde_json::from_str(&msg.encode()).unwrap();
    let example: Value = serde_json::from_str(example).unwrap();
    assert_same_meaning(&example, &out, "$");
    assert_eq!(ServerMessage::decode(msg.encode().as_bytes()).unwrap(), msg);
    msg
}

fn dispatch(example: &str) -> DispatchEvent {
    match server_round_trip(example) {
        ServerMessage::Dispatch { event, .. } => event,
        other => panic!("not a dispatch: {other:?}"),
    }
}

#[test]
fn identify() {
    let cmd = client_round_trip(
        r#"{"op":2,"d":{
            "token":"a_bot_token",
            "properties":{"os":"linux","browser":"my_library","device":"my_library"},
            "compress":true,
            "large_threshold":250,
            "shard":[0,1],
            "presence":{"activities":[{"name":"Chess","type":0}],"status":"dnd","since":91879201,"afk":false},
            "intents":5
        }}"#,
    );
    let ClientCommand::Identify(id) = cmd else {
        panic!("not identify")
    };
    assert_eq!(id.intents.bits(), 5);
    assert_eq!(id.shard, Some([0, 1]));
}

#[test]
fn identify_minimal_as_libraries_send_it() {
    client_round_trip(
        r#"{"op":2,"d":{"token":"Bot x","properties":{"os":"linux","browser":"disco","device":"disco"},"intents":513}}"#,
    );
}

#[test]
fn resume_heartbeat_presence_voice_and_member_requests() {
    client_round_trip(r#"{"op":6,"d":{"token":"a_token","session_id":"a_session","seq":1337}}"#);
    client_round_trip(r#"{"op":1,"d":251}"#);
    client_round_trip(r#"{"op":1,"d":null}"#);
    client_round_trip(
        r#"{"op":3,"d":{"since":91879201,"activities":[{"name":"Oxford commas","type":0}],"status":"online","afk":false}}"#,
    );
    client_round_trip(
        r#"{"op":4,"d":{"guild_id":"41771983423143937","channel_id":"127121515262115840","self_mute":false,"self_deaf":false}}"#,
    );
    client_round_trip(
        r#"{"op":4,"d":{"guild_id":"41771983423143937","channel_id":null,"self_mute":true,"self_deaf":true}}"#,
    );
    client_round_trip(r#"{"op":8,"d":{"guild_id":"41771983444115456","query":"","limit":0}}"#);
    let cmd = client_round_trip(
        r#"{"op":8,"d":{"guild_id":"41771983444115456","limit":0,"presences":true,"user_ids":["1","2"],"nonce":"abc"}}"#,
    );
    assert!(
        matches!(cmd, ClientCommand::RequestGuildMembers(r) if r.user_ids.as_ref().map(Vec::len) == Some(2))
    );
    // One ID instead of an array is accepted too.
    let one = ClientCommand::decode(br#"{"op":8,"d":{"guild_id":"1","limit":0,"user_ids":"42"}}"#)
        .unwrap();
    assert!(
        matches!(one, ClientCommand::RequestGuildMembers(r) if r.user_ids == Some(vec![discord_proto::Snowflake::new(42)]))
    );
}

#[test]
fn hello_reconnect_invalid_session() {
    server_round_trip(r#"{"op":10,"d":{"heartbeat_interval":45000}}"#);
    server_round_trip(r#"{"op":7,"d":null}"#);
    assert_eq!(
        server_round_trip(r#"{"op":9,"d":false}"#),
        ServerMessage::InvalidSession(false)
    );
    assert_eq!(
        server_round_trip(r#"{"op":9,"d":true}"#),
        ServerMessage::InvalidSession(true)
    );
    server_round_trip(r#"{"op":11}"#);
}

#[test]
fn ready_and_resumed() {
    let ev = dispatch(
        r#"{"op":0,"s":1,"t":"READY","d":{
            "v":10,
            "user":{"id":"80351110224678912","username":"nelly","discriminator":"0","global_name":"Nelly","avatar":"8342729096ea3675442027381ff50dfe","bot":true,"verified":true,"flags":64},
            "guilds":[{"id":"41771983423143937","unavailable":true},{"id":"41771983423143938","unavailable":true}],
            "session_id":"e3a53e1c5f2d9e7b",
            "resume_gateway_url":"wss://gateway.example:443",
            "shard":[0,1],
            "application":{"id":"80351110224678912","flags":0}
        }}"#,
    );
    let DispatchEvent::Ready(ready) = ev else {
        panic!("not READY")
    };
    assert_eq!(ready.guilds.len(), 2);
    assert!(ready.guilds.iter().all(|g| g.unavailable));
    assert_eq!(ready.v, 10);
    assert_eq!(
        dispatch(r#"{"op":0,"s":5,"t":"RESUMED","d":null}"#),
        DispatchEvent::Resumed
    );
}

#[test]
fn guild_create_available_and_unavailable() {
    let ev = dispatch(
        r#"{"op":0,"s":2,"t":"GUILD_CREATE","d":{
            "id":"197038439483310086","name":"Testers","icon":null,"splash":null,"discovery_splash":null,
            "owner_id":"80351110224678912","afk_channel_id":null,"afk_timeout":300,
            "verification_level":0,"default_message_notifications":0,"explicit_content_filter":0,
            "roles":[{"id":"197038439483310086","name":"@everyone","color":0,"colors":{"primary_color":0,"secondary_color":null,"tertiary_color":null},"hoist":false,"position":0,"permissions":"2222085186637376","managed":false,"mentionable":false,"flags":0}],
            "emojis":[],"features":[],"mfa_level":0,"application_id":null,"system_channel_id":"197038439483310087",
            "system_channel_flags":0,"rules_channel_id":null,"vanity_url_code":null,"description":null,"banner":null,
            "premium_tier":0,"preferred_locale":"en-US","public_updates_channel_id":null,"nsfw_level":0,
            "premium_progress_bar_enabled":false,"safety_alerts_channel_id":null,
            "joined_at":"2016-06-13T19:12:02.443000+00:00","large":false,"unavailable":false,"member_count":1,
            "voice_states":[],
            "members":[{"user":{"id":"80351110224678912","username":"nelly","discriminator":"0","global_name":null,"avatar":null},"roles":[],"joined_at":"2016-06-13T19:12:02.443000+00:00","deaf":false,"mute":false,"flags":0}],
            "channels":[
                {"id":"197038439483310087","type":0,"name":"general","position":0,"permission_overwrites":[],"topic":null,"nsfw":false,"rate_limit_per_user":0,"parent_id":null,"last_message_id":"155117677105512449"},
                {"id":"197038439483310088","type":2,"name":"General","position":0,"permission_overwrites":[{"id":"197038439483310086","type":0,"allow":"0","deny":"1048576"}],"bitrate":64000,"user_limit":0,"parent_id":null}
            ],
            "threads":[],"presences":[]
        }}"#,
    );
    let DispatchEvent::GuildCreate(gc) = ev else {
        panic!("not GUILD_CREATE")
    };
    let GuildCreate::Available(g) = gc else {
        panic!("unavailable")
    };
    assert_eq!(g.guild.name, "Testers");
    assert_eq!(g.channels.len(), 2);
    assert_eq!(
        g.channels[1].overwrites()[0].deny,
        discord_proto::Permissions::CONNECT
    );

    let ev = dispatch(
        r#"{"op":0,"s":3,"t":"GUILD_CREATE","d":{"id":"41771983423143937","unavailable":true}}"#,
    );
    assert!(matches!(
        ev,
        DispatchEvent::GuildCreate(GuildCreate::Unavailable(_))
    ));
}

#[test]
fn guild_update_delete_and_roles() {
    dispatch(
        r#"{"op":0,"s":4,"t":"GUILD_UPDATE","d":{"id":"1","name":"Renamed","icon":null,"splash":null,"discovery_splash":null,"owner_id":"2","afk_channel_id":null,"afk_timeout":300,"verification_level":1,"default_message_notifications":1,"explicit_content_filter":0,"roles":[],"emojis":[],"features":["COMMUNITY"],"mfa_level":0,"application_id":null,"system_channel_id":null,"system_channel_flags":0,"rules_channel_id":null,"vanity_url_code":null,"description":"d","banner":null,"premium_tier":0,"preferred_locale":"en-US","public_updates_channel_id":null,"nsfw_level":0,"premium_progress_bar_enabled":false,"safety_alerts_channel_id":null}}"#,
    );
    dispatch(r#"{"op":0,"s":5,"t":"GUILD_DELETE","d":{"id":"1","unavailable":true}}"#);
    dispatch(r#"{"op":0,"s":6,"t":"GUILD_DELETE","d":{"id":"1"}}"#);
    dispatch(
        r#"{"op":0,"s":7,"t":"GUILD_ROLE_CREATE","d":{"guild_id":"1","role":{"id":"41771983423143936","name":"WE DEM BOYZZ!!!!!!","color":3447003,"colors":{"primary_color":3447003,"secondary_color":null,"tertiary_color":null},"hoist":true,"icon":"cf3ced8600b777c9486c68d3d6c1bd07","unicode_emoji":null,"position":1,"permissions":"66321471","managed":false,"mentionable":false,"flags":0,"tags":{"bot_id":"5","premium_subscriber":null}}}}"#,
    );
    dispatch(
        r#"{"op":0,"s":8,"t":"GUILD_ROLE_UPDATE","d":{"guild_id":"1","role":{"id":"3","name":"mods","color":0,"colors":{"primary_color":0,"secondary_color":null,"tertiary_color":null},"hoist":false,"position":2,"permissions":"8192","managed":false,"mentionable":true,"flags":0}}}"#,
    );
    dispatch(r#"{"op":0,"s":9,"t":"GUILD_ROLE_DELETE","d":{"guild_id":"1","role_id":"3"}}"#);
}

#[test]
fn members() {
    dispatch(
        r#"{"op":0,"s":10,"t":"GUILD_MEMBER_ADD","d":{"guild_id":"1","user":{"id":"9","username":"newbie","discriminator":"0","global_name":null,"avatar":null},"nick":"NOT API SUPPORT","roles":[],"joined_at":"2015-04-26T06:26:56.936000+00:00","deaf":false,"mute":false,"flags":0}}"#,
    );
    dispatch(
        r#"{"op":0,"s":11,"t":"GUILD_MEMBER_UPDATE","d":{"guild_id":"1","roles":["3"],"user":{"id":"9","username":"newbie","discriminator":"0","global_name":null,"avatar":null},"nick":"renamed","avatar":null,"joined_at":"2015-04-26T06:26:56.936000+00:00","deaf":false,"mute":false,"pending":false,"flags":0}}"#,
    );
    dispatch(
        r#"{"op":0,"s":12,"t":"GUILD_MEMBER_REMOVE","d":{"guild_id":"1","user":{"id":"9","username":"newbie","discriminator":"0","global_name":null,"avatar":null}}}"#,
    );
    dispatch(
        r#"{"op":0,"s":13,"t":"GUILD_MEMBERS_CHUNK","d":{"guild_id":"1","members":[{"user":{"id":"9","username":"newbie","discriminator":"0","global_name":null,"avatar":null},"roles":[],"joined_at":"2015-04-26T06:26:56.936000+00:00","deaf":false,"mute":false,"flags":0}],"chunk_index":0,"chunk_count":1,"not_found":["77"],"nonce":"abc"}}"#,
    );
}

#[test]
fn channels() {
    for (seq, name) in [
        (14, "CHANNEL_CREATE"),
        (15, "CHANNEL_UPDATE"),
        (16, "CHANNEL_DELETE"),
    ] {
        dispatch(&format!(
            r#"{{"op":0,"s":{seq},"t":"{name}","d":{{"id":"41771983423143937","guild_id":"41771983423143937","name":"general","type":0,"position":6,"permission_overwrites":[{{"id":"5","type":1,"allow":"1024","deny":"0"}}],"rate_limit_per_user":2,"nsfw":true,"topic":"24/7 chat about how to gank Mike #2","last_message_id":"155117677105512449","parent_id":"399942396007890945","default_auto_archive_duration":60}}}}"#
        ));
    }
    // A category and a voice channel.
    dispatch(
        r#"{"op":0,"s":17,"t":"CHANNEL_CREATE","d":{"permission_overwrites":[],"name":"Test","parent_id":null,"nsfw":false,"position":0,"guild_id":"290926798629997250","type":4,"id":"399942396007890945"}}"#,
    );
    dispatch(
        r#"{"op":0,"s":18,"t":"CHANNEL_CREATE","d":{"id":"155101607195836416","guild_id":"41771983423143937","name":"ROCKET CHEESE","type":2,"nsfw":false,"position":5,"permission_overwrites":[],"bitrate":64000,"user_limit":0,"parent_id":null,"rtc_region":null}}"#,
    );
}

#[test]
fn messages() {
    let ev = dispatch(
        r#"{"op":0,"s":20,"t":"MESSAGE_CREATE","d":{
            "reactions":[{"count":1,"count_details":{"burst":0,"normal":1},"me":false,"me_burst":false,"emoji":{"id":null,"name":"🔥"},"burst_colors":[]}],
            "attachments":[{"id":"1","filename":"cat.png","size":1234,"url":"https://cdn.example/attachments/1/cat.png","proxy_url":"https://media.example/attachments/1/cat.png","content_type":"image/png","height":100,"width":120}],
            "tts":false,
            "embeds":[{"title":"A title","type":"rich","description":"words","color":16711680,"fields":[{"name":"a","value":"b","inline":true}],"footer":{"text":"foot"}}],
            "timestamp":"2017-07-11T17:27:07.299000+00:00",
            "mention_everyone":false,
            "id":"334385199974967042",
            "pinned":false,
            "edited_timestamp":null,
            "author":{"username":"Mason","discriminator":"0","id":"53908099506183680","avatar":"a_bab14f271d565501444b2ca3be944b25","global_name":null},
            "mention_roles":[],
            "content":"Supa Hot",
            "channel_id":"290926798999357250",
            "guild_id":"290926798629997250",
            "member":{"roles":[],"joined_at":"2017-01-01T00:00:00.000000+00:00","deaf":false,"mute":false,"flags":0},
            "mentions":[],
            "nonce":"1234",
            "type":0,
            "flags":0
        }}"#,
    );
    let DispatchEvent::MessageCreate(m) = ev else {
        panic!("not MESSAGE_CREATE")
    };
    assert_eq!(m.content, "Supa Hot");
    assert_eq!(m.attachments[0].size, 1234);
    assert!(m.edited_timestamp.is_none());

    // A numeric nonce and an edit.
    dispatch(
        r#"{"op":0,"s":21,"t":"MESSAGE_UPDATE","d":{"id":"5","channel_id":"6","author":{"id":"7","username":"u","discriminator":"0","global_name":null,"avatar":null},"content":"edited","timestamp":"2017-07-11T17:27:07.299000+00:00","edited_timestamp":"2017-07-11T17:28:00.000000+00:00","tts":false,"mention_everyone":false,"mentions":[],"mention_roles":[],"attachments":[],"embeds":[],"nonce":42,"pinned":false,"type":0}}"#,
    );
    dispatch(
        r#"{"op":0,"s":22,"t":"MESSAGE_DELETE","d":{"id":"5","channel_id":"6","guild_id":"8"}}"#,
    );
    dispatch(
        r#"{"op":0,"s":23,"t":"MESSAGE_DELETE_BULK","d":{"ids":["5","9"],"channel_id":"6","guild_id":"8"}}"#,
    );
}

#[test]
fn reactions_typing_presence_voice_invites() {
    dispatch(
        r#"{"op":0,"s":30,"t":"MESSAGE_REACTION_ADD","d":{"user_id":"1","channel_id":"2","message_id":"3","guild_id":"4","emoji":{"id":null,"name":"👍"},"message_author_id":"5","burst":false,"type":0}}"#,
    );
    dispatch(
        r#"{"op":0,"s":31,"t":"MESSAGE_REACTION_REMOVE","d":{"user_id":"1","channel_id":"2","message_id":"3","guild_id":"4","emoji":{"id":"6","name":"custom","animated":false},"burst":false,"type":0}}"#,
    );
    dispatch(
        r#"{"op":0,"s":32,"t":"TYPING_START","d":{"channel_id":"2","guild_id":"4","user_id":"1","timestamp":1700000000}}"#,
    );
    dispatch(
        r#"{"op":0,"s":33,"t":"PRESENCE_UPDATE","d":{"user":{"id":"1"},"guild_id":"4","status":"idle","activities":[{"name":"Rocket League","type":0,"application_id":"379286085710381999","state":"In a Match","details":"Ranked Duos: 2-1","timestamps":{"start":15112000660000}}],"client_status":{"desktop":"idle"}}}"#,
    );
    dispatch(
        r#"{"op":0,"s":34,"t":"VOICE_STATE_UPDATE","d":{"guild_id":"4","channel_id":"157733188964188161","user_id":"80351110224678912","session_id":"90326bd25d71d39b9ef95b299e3872ff","deaf":false,"mute":false,"self_deaf":false,"self_mute":true,"self_video":false,"suppress":false,"request_to_speak_timestamp":null}}"#,
    );
    dispatch(
        r#"{"op":0,"s":35,"t":"VOICE_SERVER_UPDATE","d":{"token":"my_token","guild_id":"41771983423143937","endpoint":"voice.example:2048"}}"#,
    );
    dispatch(
        r#"{"op":0,"s":36,"t":"INVITE_CREATE","d":{"channel_id":"2","code":"0vCdhLbwjZZTWZLD","created_at":"2016-03-31T19:15:39.954000+00:00","guild_id":"4","inviter":{"id":"1","username":"u","discriminator":"0","global_name":null,"avatar":null},"max_age":86400,"max_uses":0,"temporary":false,"uses":0}}"#,
    );
    dispatch(
        r#"{"op":0,"s":37,"t":"INVITE_DELETE","d":{"channel_id":"2","guild_id":"4","code":"0vCdhLbwjZZTWZLD"}}"#,
    );
}

#[test]
fn every_event_name_in_the_issue_is_typed() {
    // An event decoded through the typed path reports its own name; an
    // unknown one falls back to the raw variant.
    let typed = [
        "READY",
        "RESUMED",
        "GUILD_CREATE",
        "GUILD_UPDATE",
        "GUILD_DELETE",
        "GUILD_MEMBER_ADD",
        "GUILD_MEMBER_UPDATE",
        "GUILD_MEMBER_REMOVE",
        "GUILD_MEMBERS_CHUNK",
        "GUILD_ROLE_CREATE",
        "GUILD_ROLE_UPDATE",
        "GUILD_ROLE_DELETE",
        "CHANNEL_CREATE",
        "CHANNEL_UPDATE",
        "CHANNEL_DELETE",
        "MESSAGE_CREATE",
        "MESSAGE_UPDATE",
        "MESSAGE_DELETE",
        "MESSAGE_DELETE_BULK",
        "MESSAGE_REACTION_ADD",
        "MESSAGE_REACTION_REMOVE",
        "TYPING_START",
        "PRESENCE_UPDATE",
        "VOICE_STATE_UPDATE",
        "VOICE_SERVER_UPDATE",
        "INVITE_CREATE",
        "INVITE_DELETE",
    ];
    let junk = serde_json::value::RawValue::from_string("{}".into()).unwrap();
    for name in typed {
        // `{}` is not valid data for any typed event except RESUMED, so a
        // typed event must fail to decode it rather than fall back to Unknown.
        match DispatchEvent::from_raw(name, &junk) {
            Ok(DispatchEvent::Unknown { .. }) => panic!("{name} is not typed"),
            Ok(ev) => assert_eq!(ev.name(), name),
            Err(_) => {}
        }
    }
    assert!(matches!(
        DispatchEvent::from_raw("THREAD_CREATE", &junk).unwrap(),
        DispatchEvent::Unknown { .. }
    ));
}
