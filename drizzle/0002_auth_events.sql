CREATE TABLE "auth_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	"kind" text NOT NULL,
	"reason" text,
	"status" integer,
	"user_id" uuid,
	"app_id" uuid,
	"email" text,
	"session_id" uuid,
	"token_id" text,
	"method" text,
	"route" text,
	"ip" text,
	"user_agent" text,
	"request_id" text,
	"actor" text,
	"count" integer DEFAULT 1 NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX "auth_events_user_idx" ON "auth_events" USING btree ("user_id","occurred_at");--> statement-breakpoint
CREATE INDEX "auth_events_app_idx" ON "auth_events" USING btree ("app_id","occurred_at");--> statement-breakpoint
CREATE INDEX "auth_events_email_idx" ON "auth_events" USING btree ("email","occurred_at");--> statement-breakpoint
CREATE INDEX "auth_events_occurred_idx" ON "auth_events" USING btree ("occurred_at");