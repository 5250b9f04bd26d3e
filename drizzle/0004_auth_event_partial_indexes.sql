DROP INDEX "auth_events_user_idx";--> statement-breakpoint
DROP INDEX "auth_events_app_idx";--> statement-breakpoint
DROP INDEX "auth_events_email_idx";--> statement-breakpoint
CREATE INDEX "auth_events_user_idx" ON "auth_events" USING btree ("user_id","occurred_at") WHERE "auth_events"."user_id" is not null;--> statement-breakpoint
CREATE INDEX "auth_events_app_idx" ON "auth_events" USING btree ("app_id","occurred_at") WHERE "auth_events"."app_id" is not null;--> statement-breakpoint
CREATE INDEX "auth_events_email_idx" ON "auth_events" USING btree ("email","occurred_at") WHERE "auth_events"."email" is not null;