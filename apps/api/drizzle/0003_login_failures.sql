CREATE TABLE "login_failures" (
	"name_key" text PRIMARY KEY NOT NULL,
	"failures" integer DEFAULT 0 NOT NULL,
	"locked_until" timestamp with time zone,
	"last_failure_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
-- Carry over the failures and locks of existing accounts (usernames are ASCII, so lower() here
-- and toLowerCase() in auth/login-failures-repo.ts agree).
INSERT INTO "login_failures" ("name_key", "failures", "locked_until", "last_failure_at")
SELECT encode(sha256(convert_to(lower("username"), 'UTF8')), 'hex'), "failed_login_count", "locked_until", now()
FROM "users" WHERE "failed_login_count" > 0 OR "locked_until" > now();--> statement-breakpoint
ALTER TABLE "users" DROP COLUMN "failed_login_count";--> statement-breakpoint
ALTER TABLE "users" DROP COLUMN "locked_until";