CREATE TABLE "nodes" (
	"id" text PRIMARY KEY NOT NULL,
	"peer_url" text,
	"host_generation" text,
	"version" text NOT NULL,
	"state" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"heartbeat_at" timestamp with time zone NOT NULL
);
