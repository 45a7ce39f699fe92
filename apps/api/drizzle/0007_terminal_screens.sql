CREATE TABLE "terminal_screens" (
	"terminal_id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"data" text NOT NULL,
	"cols" integer NOT NULL,
	"rows" integer NOT NULL,
	"output_offset" bigint NOT NULL,
	"captured_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "terminal_screens" ADD CONSTRAINT "terminal_screens_terminal_id_terminals_id_fk" FOREIGN KEY ("terminal_id") REFERENCES "public"."terminals"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "terminal_screens" ADD CONSTRAINT "terminal_screens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "terminal_screens_user_idx" ON "terminal_screens" USING btree ("user_id","captured_at");