package stores

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"time"

	_ "github.com/go-sql-driver/mysql" // registers "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/sqlstore"
	"github.com/smsconvo/convo/sqlstore/sqlite"
)

// SQLiteFile is the file -store sqlite uses without -dsn, in the working
// directory: app.db.
func SQLiteFile(app string) string { return app + ".db" }

// Table is the SQL table of app's conversations: app_conversations.
func Table(app string) string { return app + "_conversations" }

func usageSQLite(app string) string {
	return fmt.Sprintf("a SQLite file: -dsn PATH (default %s), table %s", SQLiteFile(app), Table(app))
}

func usagePostgres(app string) string {
	return fmt.Sprintf("PostgreSQL: -dsn postgres://USER@HOST:5432/DB?sslmode=disable (or key=value pairs), table %s", Table(app))
}

func usageMySQL(app string) string {
	return fmt.Sprintf("MySQL or MariaDB: -dsn USER:PASSWORD@tcp(HOST:3306)/DB, table %s", Table(app))
}

func openSQLite(ctx context.Context, c config) (convo.Store, io.Closer, error) {
	if c.dsn == "" {
		c.dsn = SQLiteFile(c.app)
	}
	db, err := sqlite.Open(c.dsn)
	if err != nil {
		return nil, nil, err
	}
	return openSQL(ctx, db, sqlstore.SQLite, c)
}

func openPostgres(ctx context.Context, c config) (convo.Store, io.Closer, error) {
	if c.dsn == "" {
		return nil, nil, fmt.Errorf("-store postgres needs -dsn, such as postgres://USER@127.0.0.1:5432/DB?sslmode=disable")
	}
	db, err := sql.Open("pgx", c.dsn)
	if err != nil {
		return nil, nil, err
	}
	return openSQL(ctx, db, sqlstore.PostgreSQL, c)
}

func openMySQL(ctx context.Context, c config) (convo.Store, io.Closer, error) {
	if c.dsn == "" {
		return nil, nil, fmt.Errorf("-store mysql needs -dsn, such as USER:PASSWORD@tcp(127.0.0.1:3306)/DB")
	}
	db, err := sql.Open("mysql", c.dsn)
	if err != nil {
		return nil, nil, err
	}
	return openSQL(ctx, db, sqlstore.MySQL, c)
}

// openSQL checks that db answers, makes a sqlstore of dialect d on it, in
// app's table, and creates or migrates the table. It closes db when it
// fails.
func openSQL(ctx context.Context, db *sql.DB, d sqlstore.Dialect, c config) (convo.Store, io.Closer, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("connecting to %s: %w", d, err)
	}
	s, err := sqlstore.New(db, sqlstore.Options{Table: Table(c.app), Dialect: d, Logger: c.log})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		db.Close()
		return nil, nil, err
	}
	c.log.Info("sql store", "dialect", d, "table", s.Table())
	return s, closers{s, db}, nil
}
