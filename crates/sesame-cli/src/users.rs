//! `createsuperuser`, `changepassword`, `user`, `group` and `perm`.

use crate::context::{Stores, hashing};
use crate::{CliError, prompt_password};
use sesame::core::auth::validators::{PasswordValidators, UserAttributes};
use sesame::core::auth::{
    NewUser, User, UserField, UserPermissions, normalize_email, normalize_username, split_perm,
    validate_username,
};
use sesame::core::settings::Settings;

fn db_err(e: impl std::fmt::Display) -> CliError {
    CliError::runtime(e.to_string())
}

/// A user by username, or a clear error.
pub(crate) async fn find_user(stores: &Stores, username: &str) -> Result<User, CliError> {
    stores
        .auth
        .get_user_by_username(username)
        .await
        .map_err(db_err)?
        .ok_or_else(|| CliError::runtime(format!("user '{username}' does not exist")))
}

async fn find_group(stores: &Stores, name: &str) -> Result<sesame::core::auth::Group, CliError> {
    stores
        .auth
        .get_group_by_name(name)
        .await
        .map_err(db_err)?
        .ok_or_else(|| CliError::runtime(format!("group '{name}' does not exist")))
}

async fn find_perm(
    stores: &Stores,
    perm: &str,
) -> Result<sesame::core::auth::Permission, CliError> {
    let (app, codename) = split_perm(perm).ok_or_else(|| {
        CliError::usage(format!(
            "'{perm}' is not a permission: use app_label.codename, e.g. auth.add_user"
        ))
    })?;
    stores
        .auth
        .get_permission(app, codename)
        .await
        .map_err(db_err)?
        .ok_or_else(|| {
            CliError::runtime(format!(
                "permission '{perm}' does not exist (see `sesame perm list`)"
            ))
        })
}

fn validators(settings: &Settings) -> Result<PasswordValidators, CliError> {
    PasswordValidators::from_settings(settings).map_err(CliError::usage)
}

/// `createsuperuser`.
pub(crate) async fn createsuperuser(
    stores: &Stores,
    settings: &Settings,
    noinput: bool,
    username: Option<String>,
    email: Option<String>,
) -> Result<(), CliError> {
    let username = match username {
        Some(u) => u,
        None if noinput => return Err(CliError::usage("--username is required with --noinput")),
        None => crate::prompt_line("Username: ")?,
    };
    let username = normalize_username(username.trim());
    validate_username(&username).map_err(|m| CliError::runtime(format!("Error: {m}")))?;
    if stores
        .auth
        .get_user_by_username(&username)
        .await
        .map_err(db_err)?
        .is_some()
    {
        return Err(CliError::runtime("Error: That username is already taken."));
    }
    let email = match email {
        Some(e) => e,
        None if noinput => String::new(),
        None => crate::prompt_line("Email address: ")?,
    };
    let email = normalize_email(&email);
    let password = match std::env::var("SESAME_SUPERUSER_PASSWORD") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if noinput => None,
        _ => {
            let p = prompt_password("Password: ")?;
            if p != prompt_password("Password (again): ")? {
                return Err(CliError::runtime("Error: Your passwords didn't match."));
            }
            if p.is_empty() {
                return Err(CliError::runtime("Error: Blank passwords aren't allowed."));
            }
            let attrs = UserAttributes {
                username: username.clone(),
                email: email.clone(),
                ..Default::default()
            };
            if let Err(errors) = validators(settings)?.validate(&p, Some(&attrs)) {
                let text: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
                return Err(CliError::runtime(text.join("\n")));
            }
            Some(p)
        }
    };
    let encoded = match password {
        Some(p) => hashing(settings)?.make_password(p).await.map_err(db_err)?,
        // Django: with --noinput and no password, the user gets an unusable password.
        None => sesame::core::auth::hashers::make_unusable_password(),
    };
    let user = stores
        .auth
        .create_user(NewUser {
            is_staff: true,
            is_superuser: true,
            ..NewUser::new(username, email, encoded)
        })
        .await
        .map_err(|e| match e {
            sesame::core::auth::AuthStoreError::DuplicateUsername(_) => {
                CliError::runtime("Error: That username is already taken.")
            }
            other => db_err(other),
        })?;
    println!("Superuser created successfully (id {}).", user.id);
    Ok(())
}

/// `changepassword [USERNAME]`: up to three attempts, as Django.
pub(crate) async fn changepassword(
    stores: &Stores,
    settings: &Settings,
    username: Option<String>,
) -> Result<(), CliError> {
    let username = match username {
        Some(u) => u,
        None => std::env::var("USER").map_err(|_| CliError::usage("give a USERNAME"))?,
    };
    let user = find_user(stores, &username).await?;
    println!("Changing password for user '{username}'");
    let validators = validators(settings)?;
    for _ in 0..3 {
        let p1 = prompt_password("Password: ")?;
        let p2 = prompt_password("Password (again): ")?;
        if p1 != p2 {
            eprintln!("Passwords do not match. Please try again.");
            continue;
        }
        if let Err(errors) = validators.validate(&p1, Some(&UserAttributes::from(&user))) {
            for e in errors {
                eprintln!("{}", e.message);
            }
            continue;
        }
        let encoded = hashing(settings)?.make_password(p1).await.map_err(db_err)?;
        stores
            .auth
            .set_password(&user.id, &encoded)
            .await
            .map_err(db_err)?;
        println!("Password changed successfully for user '{username}'");
        return Ok(());
    }
    Err(CliError::runtime(format!(
        "Aborting password change for user '{username}' after 3 attempts"
    )))
}

fn print_user(u: &User) {
    println!(
        "{:>6}  {:<24} {:<30} {}{}{}",
        u.id.to_string(),
        u.username,
        u.email,
        if u.is_active { "active" } else { "inactive" },
        if u.is_staff { ", staff" } else { "" },
        if u.is_superuser { ", superuser" } else { "" },
    );
}

/// `user list|show|create|delete|activate|deactivate`.
pub(crate) async fn user(
    stores: &Stores,
    settings: &Settings,
    cmd: crate::UserCommand,
) -> Result<(), CliError> {
    use crate::UserCommand as C;
    match cmd {
        C::List { limit, offset } => {
            for u in stores
                .auth
                .list_users(offset, limit)
                .await
                .map_err(db_err)?
            {
                print_user(&u);
            }
        }
        C::Show { username } => {
            let u = find_user(stores, &username).await?;
            let groups = stores.auth.user_groups(&u.id).await.map_err(db_err)?;
            let mut value = serde_json::to_value(&u).map_err(db_err)?;
            if let Some(obj) = value.as_object_mut() {
                obj.remove("password");
                obj.insert("has_usable_password".into(), u.has_usable_password().into());
                obj.insert(
                    "groups".into(),
                    groups
                        .iter()
                        .map(|g| g.name.clone())
                        .collect::<Vec<_>>()
                        .into(),
                );
                let perms = stores
                    .auth
                    .get_all_permissions(&u.id)
                    .await
                    .map_err(db_err)?;
                obj.insert(
                    "permissions".into(),
                    perms.into_iter().collect::<Vec<_>>().into(),
                );
            }
            println!("{}", serde_json::to_string_pretty(&value).map_err(db_err)?);
        }
        C::Create {
            username,
            email,
            staff,
            superuser,
            inactive,
            no_password,
        } => {
            let username = normalize_username(username.trim());
            validate_username(&username).map_err(|m| CliError::runtime(format!("Error: {m}")))?;
            let email = normalize_email(&email.unwrap_or_default());
            let encoded = if no_password {
                sesame::core::auth::hashers::make_unusable_password()
            } else {
                let p = match std::env::var("SESAME_USER_PASSWORD") {
                    Ok(p) if !p.is_empty() => p,
                    _ => prompt_password("Password: ")?,
                };
                let attrs = UserAttributes {
                    username: username.clone(),
                    email: email.clone(),
                    ..Default::default()
                };
                if let Err(errors) = validators(settings)?.validate(&p, Some(&attrs)) {
                    let text: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
                    return Err(CliError::runtime(text.join("\n")));
                }
                hashing(settings)?.make_password(p).await.map_err(db_err)?
            };
            let user = stores
                .auth
                .create_user(NewUser {
                    is_staff: staff || superuser,
                    is_superuser: superuser,
                    is_active: !inactive,
                    ..NewUser::new(username, email, encoded)
                })
                .await
                .map_err(|e| match e {
                    sesame::core::auth::AuthStoreError::DuplicateUsername(u) => CliError::runtime(
                        format!("Error: a user with the username '{u}' already exists."),
                    ),
                    other => db_err(other),
                })?;
            println!("Created user '{}' (id {}).", user.username, user.id);
        }
        C::Delete { username } => {
            let u = find_user(stores, &username).await?;
            stores.auth.delete_user(&u.id).await.map_err(db_err)?;
            println!("Deleted user '{username}'.");
        }
        C::Activate { username } => set_active(stores, &username, true).await?,
        C::Deactivate { username } => set_active(stores, &username, false).await?,
    }
    Ok(())
}

async fn set_active(stores: &Stores, username: &str, active: bool) -> Result<(), CliError> {
    let u = find_user(stores, username).await?;
    stores
        .auth
        .update_user(&u.id, &[UserField::IsActive(active)])
        .await
        .map_err(db_err)?;
    println!(
        "User '{username}' is now {}.",
        if active { "active" } else { "inactive" }
    );
    Ok(())
}

/// `group list|create|add-user|remove-user|grant|revoke`.
pub(crate) async fn group(stores: &Stores, cmd: crate::GroupCommand) -> Result<(), CliError> {
    use crate::GroupCommand as C;
    match cmd {
        C::List => {
            for g in stores.auth.list_groups().await.map_err(db_err)? {
                println!("{:>6}  {}", g.id.to_string(), g.name);
            }
        }
        C::Create { name } => {
            let g = stores.auth.create_group(&name).await.map_err(|e| match e {
                sesame::core::auth::AuthStoreError::DuplicateGroup(n) => {
                    CliError::runtime(format!("Error: a group named '{n}' already exists."))
                }
                other => db_err(other),
            })?;
            println!("Created group '{}' (id {}).", g.name, g.id);
        }
        C::AddUser { group, username } => {
            let (g, u) = (
                find_group(stores, &group).await?,
                find_user(stores, &username).await?,
            );
            stores
                .auth
                .add_user_to_group(&u.id, &g.id)
                .await
                .map_err(db_err)?;
            println!("Added '{username}' to '{group}'.");
        }
        C::RemoveUser { group, username } => {
            let (g, u) = (
                find_group(stores, &group).await?,
                find_user(stores, &username).await?,
            );
            stores
                .auth
                .remove_user_from_group(&u.id, &g.id)
                .await
                .map_err(db_err)?;
            println!("Removed '{username}' from '{group}'.");
        }
        C::Grant { group, perm } => {
            let (g, p) = (
                find_group(stores, &group).await?,
                find_perm(stores, &perm).await?,
            );
            stores
                .auth
                .grant_group_permission(&g.id, &p.id)
                .await
                .map_err(db_err)?;
            println!("Granted '{perm}' to group '{group}'.");
        }
        C::Revoke { group, perm } => {
            let (g, p) = (
                find_group(stores, &group).await?,
                find_perm(stores, &perm).await?,
            );
            stores
                .auth
                .revoke_group_permission(&g.id, &p.id)
                .await
                .map_err(db_err)?;
            println!("Revoked '{perm}' from group '{group}'.");
        }
    }
    Ok(())
}

/// `perm list|grant|revoke|check`.
pub(crate) async fn perm(stores: &Stores, cmd: crate::PermCommand) -> Result<(), CliError> {
    use crate::PermCommand as C;
    match cmd {
        C::List { username: None } => {
            for p in stores.auth.list_permissions().await.map_err(db_err)? {
                println!("{:<40} {}", p.perm_string(), p.name);
            }
        }
        C::List {
            username: Some(username),
        } => {
            let u = find_user(stores, &username).await?;
            for p in user_permissions(stores, &u).await?.all() {
                println!("{p}");
            }
        }
        C::Grant { username, perm } => {
            let (u, p) = (
                find_user(stores, &username).await?,
                find_perm(stores, &perm).await?,
            );
            stores
                .auth
                .grant_user_permission(&u.id, &p.id)
                .await
                .map_err(db_err)?;
            println!("Granted '{perm}' to '{username}'.");
        }
        C::Revoke { username, perm } => {
            let (u, p) = (
                find_user(stores, &username).await?,
                find_perm(stores, &perm).await?,
            );
            stores
                .auth
                .revoke_user_permission(&u.id, &p.id)
                .await
                .map_err(db_err)?;
            println!("Revoked '{perm}' from '{username}'.");
        }
        C::Check { username, perm } => {
            let u = find_user(stores, &username).await?;
            if user_permissions(stores, &u).await?.has_perm(&perm) {
                println!("yes");
            } else {
                println!("no");
                return Err(CliError::silent(1));
            }
        }
    }
    Ok(())
}

async fn user_permissions(stores: &Stores, u: &User) -> Result<UserPermissions, CliError> {
    UserPermissions::load(stores.auth.as_ref(), u)
        .await
        .map_err(db_err)
}

/// `mongo import-mango`: the legacy `mango` layout into Django's collections, with progress.
pub(crate) async fn import_mango(
    stores: &Stores,
    settings: &Settings,
    users: String,
    sessions: String,
) -> Result<(), CliError> {
    use sesame::mongodb::import::{MangoSource, import_mango};
    let crate::context::Database::Mongo(db) = &stores.db else {
        return Err(CliError::usage(
            "this command needs a MongoDB database_url (mongodb://host:port/dbname)",
        ));
    };
    let store = sesame::mongodb::MongoAuthStore::new(db.clone());
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} importing {msg} {bar:40} {pos}/{len}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |phase: &str, done: u64, total: u64| {
        bar.set_message(phase.to_owned());
        bar.set_length(total);
        bar.set_position(done);
    };
    let source = MangoSource { users, sessions };
    let report = import_mango(db, &store, &source, &progress)
        .await
        .map_err(db_err)?;
    bar.finish_and_clear();
    println!(
        "Imported {} user(s) from {:?}; {} were already imported; {} document(s) without a username were skipped.",
        report.users_imported, source.users, report.users_already_present, report.users_invalid
    );
    println!(
        "Dropped {} legacy session(s) from {:?} (pickled data is never loaded; those users log in again). The legacy collections were only read.",
        report.sessions_dropped, source.sessions
    );
    if report.legacy_hashes > 0 {
        let hashers = &settings.auth.password_hashers;
        let preferred = hashers
            .first()
            .map_or("the preferred hasher", String::as_str);
        let missing: Vec<&str> = ["sha1", "unsalted_md5"]
            .into_iter()
            .filter(|h| !hashers.iter().any(|x| x == h))
            .collect();
        if missing.is_empty() {
            println!(
                "{} user(s) have legacy hashes (sha1$..., bare MD5); they are rehashed with {} at their next login.",
                report.legacy_hashes, preferred
            );
        } else {
            println!(
                "{} user(s) have legacy hashes (sha1$..., bare MD5). To let them log in (and be rehashed with {}), add {} to password_hashers, e.g. SESAME_PASSWORD_HASHERS={},{}.",
                report.legacy_hashes,
                preferred,
                missing.join(" and "),
                hashers.join(","),
                missing.join(",")
            );
        }
    }
    Ok(())
}
