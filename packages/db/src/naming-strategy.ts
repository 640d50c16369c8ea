import { DefaultNamingStrategy, type NamingStrategyInterface, type Table } from 'typeorm';

const snakeCase = (name: string): string => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
const tableName = (table: Table | string): string => {
  const name = typeof table === 'string' ? table : table.name;
  return name.slice(name.lastIndexOf('.') + 1);
};

/**
 * camelCase properties in TypeScript, snake_case columns in PostgreSQL, and constraint names a
 * person can read (`FK_devices_user_id` rather than a hash).
 */
export class SnakeNamingStrategy extends DefaultNamingStrategy implements NamingStrategyInterface {
  override columnName(propertyName: string, customName: string | undefined, embeddedPrefixes: string[]): string {
    return customName ?? snakeCase([...embeddedPrefixes, propertyName].join('_'));
  }

  override relationName(propertyName: string): string {
    return snakeCase(propertyName);
  }

  override joinColumnName(relationName: string, referencedColumnName: string): string {
    return snakeCase(`${relationName}_${referencedColumnName}`);
  }

  override primaryKeyName(table: Table | string): string {
    return `PK_${tableName(table)}`;
  }

  override foreignKeyName(table: Table | string, columnNames: string[]): string {
    return `FK_${tableName(table)}_${columnNames.join('_')}`;
  }
}
