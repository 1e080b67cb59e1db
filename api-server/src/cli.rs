//! The command line: `serve` (default), `migrate`, `print-schema`, `create-organization`,
//! `create-api-key`. Every command reads the same configuration as `serve`.

use clap::{Parser, Subcommand};
use domain::api_keys::{self, NewApiKey};
use domain::config::Config;
use domain::organizations::{self, NewOrganization};

#[derive(Parser)]
#[command(
    name = "api-server",
    version,
    about = "Opsdeck API server (GraphQL over HTTP)"
)]
#[command(
    after_help = "Configuration comes from OPSDECK_* variables and the optional OPSDECK_CONFIG file; see README.md."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations (as OPSDECK_MIGRATION_DATABASE_URL) and exit.
    Migrate,
    /// Print the GraphQL SDL the server serves.
    PrintSchema,
    /// Create an organization (no first member; add one with an ADMIN key).
    CreateOrganization {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
    },
    /// Create an API key; prints only the secret on standard output.
    CreateApiKey {
        /// The organization's slug or id.
        #[arg(long)]
        org: String,
        /// VIEWER, ENGINEER, MANAGER or ADMIN.
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
    },
}

pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::serve::serve(config).await,
        Command::Migrate => {
            domain::db::migrate(&config).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::PrintSchema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::CreateOrganization { slug, name } => {
            domain::db::migrate_if_embedded(&config).await?;
            let db = domain::db::connect(&config).await?;
            let org = organizations::create_system(&db, NewOrganization { slug, name })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!("created organization {} ({})", org.slug, org.id);
            println!("{}", org.id);
            Ok(())
        }
        Command::CreateApiKey { org, role, name } => {
            let role = Config::parse_role("--role", &role)?;
            domain::db::migrate_if_embedded(&config).await?;
            let db = domain::db::connect(&config).await?;
            let org = organizations::find_by_id_or_slug(&db, &org)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .ok_or_else(|| anyhow::anyhow!("--org: no organization {org:?}"))?;
            let created = api_keys::create_system(
                &db,
                org.id,
                NewApiKey {
                    name,
                    role,
                    expires_at: None,
                },
                None,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!(
                "created {} API key {} in {}",
                role, created.key.prefix, org.slug
            );
            println!("{}", created.secret);
            Ok(())
        }
    }
}
