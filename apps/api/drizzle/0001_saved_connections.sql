CREATE TABLE "connection_profiles" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"folder_id" uuid,
	"name" text NOT NULL,
	"host" text NOT NULL,
	"port" integer NOT NULL,
	"username" text,
	"auth_method" text DEFAULT 'none' NOT NULL,
	"credential_id" uuid,
	"secret_enc" text,
	"device_type" text,
	"model" text,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"notes" text,
	"extra" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"import_key" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "credentials" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"username" text,
	"secret_enc" text NOT NULL,
	"has_passphrase" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "credentials_id_user_unique" UNIQUE("id","user_id")
);
--> statement-breakpoint
CREATE TABLE "folders" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "folders_id_user_unique" UNIQUE("id","user_id")
);
--> statement-breakpoint
ALTER TABLE "connection_profiles" ADD CONSTRAINT "connection_profiles_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connection_profiles" ADD CONSTRAINT "connection_profiles_folder_fk" FOREIGN KEY ("folder_id","user_id") REFERENCES "public"."folders"("id","user_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connection_profiles" ADD CONSTRAINT "connection_profiles_credential_fk" FOREIGN KEY ("credential_id","user_id") REFERENCES "public"."credentials"("id","user_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "credentials" ADD CONSTRAINT "credentials_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "folders" ADD CONSTRAINT "folders_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "connection_profiles_user_import_key_idx" ON "connection_profiles" USING btree ("user_id","import_key");--> statement-breakpoint
CREATE INDEX "connection_profiles_user_folder_idx" ON "connection_profiles" USING btree ("user_id","folder_id");--> statement-breakpoint
CREATE INDEX "connection_profiles_user_credential_idx" ON "connection_profiles" USING btree ("user_id","credential_id");--> statement-breakpoint
CREATE UNIQUE INDEX "credentials_user_name_lower_idx" ON "credentials" USING btree ("user_id",lower("name"));--> statement-breakpoint
CREATE UNIQUE INDEX "folders_user_name_lower_idx" ON "folders" USING btree ("user_id",lower("name"));