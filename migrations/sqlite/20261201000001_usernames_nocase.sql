-- `admin` and `ADMIN` are one name: logins compare names without case, and so does this
-- index. (A database that already holds two such names stops here; rename one first.)
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
