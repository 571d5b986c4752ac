//! `session-bench table [--quick] [--only NAME]... [--ping on|off]`: runs the
//! benchmark and prints the table (Markdown) on stdout, progress on stderr.

use std::process::ExitCode;

use session_bench::run::print_table;
use session_bench::Settings;

const USAGE: &str = "usage: session-bench table [--quick] [--only NAME]... [--op OP]...
                           [--ping on|off] [--rounds N] [--run-for MS]

  --quick      one short round per cell (what CI runs): proves every cell runs
  --only NAME  only the backends whose name contains NAME (memory, file,
               signed cookies, SQLite, PostgreSQL, MariaDB, Redis, Valkey,
               cached_db, cookie, middleware); may be repeated. Valkey (the
               versioned saves on a server the run starts: VALKEY_SERVER, else
               .ci/valkey-server) is apart from Redis: --only Redis --only Valkey
  --op OP      only the operation OP (create, load, save, cycle, delete, encode,
               decode, \"untouched request\", \"request reading a key\");
               may be repeated
  --ping       force the database pools' ping before each acquire on or off
               (default: the library's default)
  --rounds N   rounds per cell (full: 3, quick: 1)
  --run-for MS milliseconds per run of a column (full: 300, quick: 5)";

fn settings(args: &[String]) -> Result<Settings, String> {
    let mut args = args.iter();
    if args.next().map(String::as_str) != Some("table") {
        return Err(USAGE.to_owned());
    }
    let mut quick = false;
    let mut only = Vec::new();
    let mut ops = Vec::new();
    let mut ping = None;
    let mut rounds = None;
    let mut run_for = None;
    let number = |arg: Option<&String>| -> Result<u64, String> {
        arg.and_then(|n| n.parse().ok())
            .ok_or_else(|| USAGE.to_owned())
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => only.push(args.next().ok_or(USAGE)?.clone()),
            "--op" => ops.push(args.next().ok_or(USAGE)?.clone()),
            "--ping" => {
                ping = Some(match args.next().map(String::as_str) {
                    Some("on") => true,
                    Some("off") => false,
                    _ => return Err(USAGE.to_owned()),
                })
            }
            "--rounds" => rounds = Some(number(args.next())?),
            "--run-for" => run_for = Some(number(args.next())?),
            _ => return Err(USAGE.to_owned()),
        }
    }
    let mut settings = if quick {
        Settings::quick()
    } else {
        Settings::full()
    };
    settings.only = only;
    settings.ops = ops;
    settings.ping = ping;
    if let Some(rounds) = rounds {
        settings.rounds = usize::try_from(rounds.max(1)).unwrap_or(1);
    }
    if let Some(ms) = run_for {
        settings.budget.run_for = std::time::Duration::from_millis(ms.max(1));
    }
    Ok(settings)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = match settings(&args) {
        Ok(settings) => settings,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    print_table(&settings)
}
