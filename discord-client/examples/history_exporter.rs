//! A history exporter: writes every message of a channel to stdout as one
//! JSON object per line, newest first.
//!
//! ```sh
//! cargo run -p discord-client --example history_exporter -- \
//!     http://127.0.0.1:8080 BOT_TOKEN CHANNEL_ID > history.jsonl
//! ```

use std::io::Write;

use discord_client::RestClient;
use discord_proto::Snowflake;
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(base), Some(token), Some(channel)) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: history_exporter BASE_URL BOT_TOKEN CHANNEL_ID");
        std::process::exit(2);
    };
    let channel = Snowflake::new(channel.parse()?);
    let rest = RestClient::bot(format!("{base}/api/v10"), &token);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut count = 0u64;
    let mut history = std::pin::pin!(rest.history(channel));
    while let Some(message) = history.try_next().await? {
        serde_json::to_writer(&mut out, &message)?;
        out.write_all(b"\n")?;
        count += 1;
    }
    out.flush()?;
    eprintln!("exported {count} messages");
    Ok(())
}
